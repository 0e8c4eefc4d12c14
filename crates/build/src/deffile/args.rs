// SPDX-License-Identifier: Apache-2.0
//! `%arguments` and `{{ NAME }}` substitution. Values come from the `%arguments` bodies,
//! overridden by `--build-arg`; every line outside an `%arguments` body is substituted before
//! anything else is parsed. A small file can name a long value many times, so the text after
//! substitution is bounded by [`MAX_EXPANDED`].

use std::collections::BTreeMap;
use std::path::Path;

use super::{Block, err};
use crate::error::BuildError;

/// Largest definition text after `{{ NAME }}` substitution (newlines included).
pub const MAX_EXPANDED: usize = 4 << 20;

/// The lines with `{{ NAME }}` replaced; lines of `%arguments` bodies are kept as they are.
pub(super) fn expand(
    path: &Path,
    lines: &[&str],
    blocks: &[Block],
    build_args: &BTreeMap<String, String>,
) -> Result<Vec<String>, BuildError> {
    let mut args = BTreeMap::new();
    let mut in_args = vec![false; lines.len()];
    for b in blocks.iter().filter(|b| b.name == "arguments") {
        parse_arguments(path, &lines[b.start..b.end], b.start + 1, &mut args)?;
        in_args[b.start..b.end].fill(true);
    }
    args.extend(build_args.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut total = 0usize;
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let line = if in_args[i] {
            (*l).to_string()
        } else {
            substitute(path, l, i + 1, &args, MAX_EXPANDED.saturating_sub(total))?
        };
        total = total.saturating_add(line.len() + 1);
        out.push(line);
    }
    Ok(out)
}

/// Parses `%arguments` lines (`NAME=value`) into `out`; `first` is the line number of `lines[0]`.
fn parse_arguments(
    path: &Path,
    lines: &[&str],
    first: usize,
    out: &mut BTreeMap<String, String>,
) -> Result<(), BuildError> {
    for (i, l) in lines.iter().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| err(path, first + i, "%arguments line needs NAME=value".into()))?;
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(path, first + i, format!("bad argument name '{k}'")));
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        out.insert(k.to_string(), v.to_string());
    }
    Ok(())
}

/// Replaces `{{ NAME }}` in `line` (line number `n`) with its value; the result may not
/// exceed `limit` bytes.
fn substitute(
    path: &Path,
    line: &str,
    n: usize,
    args: &BTreeMap<String, String>,
    limit: usize,
) -> Result<String, BuildError> {
    let too_long = || {
        let problem = format!("build arguments expand the file beyond {MAX_EXPANDED} bytes");
        err(path, n, problem)
    };
    let mut out = String::with_capacity(line.len().min(limit));
    // `copied`: end of the text already in `out`; `scan`: where the next `{{` is searched.
    // The next `}}` is remembered, so a line of many `{{` is scanned once, not once per `{{`.
    let (mut copied, mut scan) = (0, 0);
    let mut next_close: Option<usize> = None;
    while let Some(open) = line[scan..].find("{{").map(|o| scan + o) {
        let close = match next_close {
            Some(c) if c >= open => Some(c),
            _ => line[open..].find("}}").map(|c| open + c),
        };
        next_close = close;
        let Some(close) = close else {
            break;
        };
        let name = line[open + 2..close].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            scan = open + 2;
            continue;
        }
        let val = args.get(name).ok_or_else(|| err(path, n, format!("build argument '{name}' has no value (define it in %arguments or with --build-arg)")))?;
        if out.len() + (open - copied) + val.len() > limit {
            return Err(too_long());
        }
        out.push_str(&line[copied..open]);
        out.push_str(val);
        copied = close + 2;
        scan = copied;
    }
    out.push_str(&line[copied..]);
    if out.len() > limit {
        return Err(too_long());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_leaves_other_braces() {
        let mut a = BTreeMap::new();
        a.insert("X".to_string(), "1".to_string());
        let p = Path::new("d");
        assert_eq!(
            substitute(p, "a {{X}} {{ X }} {{ }} ${{x-y}}", 1, &a, MAX_EXPANDED).unwrap(),
            "a 1 1 {{ }} ${{x-y}}"
        );
    }
}
