// SPDX-License-Identifier: Apache-2.0
//! Header lines, `%files` and `%labels` bodies.

use std::path::Path;

use super::err;
use crate::error::BuildError;

/// Header keywords Apptainer accepts (agents we do not support still parse, then fail by name).
const KNOWN: &[&str] = &[
    "bootstrap",
    "from",
    "stage",
    "fingerprints",
    "includecmd",
    "mirrorurl",
    "updateurl",
    "osversion",
    "include",
    "library",
    "registry",
    "namespace",
    "product",
    "user",
    "regcode",
    "productpgp",
    "confurl",
    "setopt",
    "otherurl",
];

/// The header of a definition file.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// `Bootstrap:` agent, lower-cased.
    pub bootstrap: String,
    /// Line of the `Bootstrap:` header.
    pub bootstrap_line: usize,
    /// `From:`.
    pub from: Option<String>,
    /// Line of the `From:` header.
    pub from_line: usize,
    /// Every key (lower-cased) and value, in order.
    pub all: Vec<(String, String)>,
}

impl Header {
    /// Parses header lines (line 1 = `lines[0]`).
    pub fn parse(path: &Path, lines: &[String]) -> Result<Header, BuildError> {
        let mut h = Header::default();
        let mut pending: Option<(String, String, usize)> = None;
        for (i, raw) in lines.iter().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                if let Some((k, v, at)) = pending.take() {
                    h.set(path, k, v, at)?;
                }
                continue;
            }
            let (key, mut val, at) = match pending.take() {
                Some((k, v, at)) => (k, v + line, at),
                None => {
                    let (k, v) = line
                        .split_once(':')
                        .ok_or_else(|| err(path, n, "header line without ':'".into()))?;
                    (k.trim().to_ascii_lowercase(), v.trim().to_string(), n)
                }
            };
            if val.ends_with('\\') {
                // In place: a long run of continuation lines must not copy the value each time.
                val.pop();
                pending = Some((key, val, at));
                continue;
            }
            h.set(path, key, val, at)?;
        }
        if let Some((k, v, at)) = pending {
            h.set(path, k, v, at)?;
        }
        Ok(h)
    }

    fn set(
        &mut self,
        path: &Path,
        key: String,
        val: String,
        line: usize,
    ) -> Result<(), BuildError> {
        let base = key.trim_end_matches(|c: char| c.is_ascii_digit());
        if !(KNOWN.contains(&key.as_str()) || base == "otherurl" && base != key) {
            return Err(err(path, line, format!("unknown header keyword '{key}'")));
        }
        match key.as_str() {
            "bootstrap" if !self.bootstrap.is_empty() => {
                return Err(err(
                    path,
                    line,
                    "multi-stage definition files (a second 'Bootstrap:') are not supported".into(),
                ));
            }
            "bootstrap" => {
                self.bootstrap = val.to_ascii_lowercase();
                self.bootstrap_line = line;
            }
            "from" => {
                self.from = Some(val.clone());
                self.from_line = line;
            }
            _ => {}
        }
        self.all.push((key, val));
        Ok(())
    }
}

/// One `%files` line: `src [dst]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCopy {
    /// Host source path.
    pub src: String,
    /// Destination in the image (default: same as `src`).
    pub dst: Option<String>,
    /// Line number.
    pub line: usize,
}

/// Parses `%files` lines; `first` is the line number of `lines[0]`.
pub fn parse_files(
    path: &Path,
    lines: &[String],
    first: usize,
) -> Result<Vec<FileCopy>, BuildError> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let words =
            split_words(l).ok_or_else(|| err(path, first + i, "unterminated quote".into()))?;
        match words.as_slice() {
            [src] => out.push(FileCopy {
                src: src.clone(),
                dst: None,
                line: first + i,
            }),
            [src, dst] => out.push(FileCopy {
                src: src.clone(),
                dst: Some(dst.clone()),
                line: first + i,
            }),
            _ => {
                return Err(err(
                    path,
                    first + i,
                    format!(
                        "%files line needs 'source [destination]', got {} words",
                        words.len()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// Splits on whitespace, keeping double- or single-quoted words together.
fn split_words(l: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut has = false;
    for c in l.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return None;
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    Some(out)
}

/// Parses `%labels` lines: `key value...`.
pub fn parse_labels(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((k, v)) => (k.to_string(), v.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            split_words("a  'b c' \"d\"").unwrap(),
            vec!["a", "b c", "d"]
        );
        assert_eq!(split_words("\"\" x").unwrap(), vec!["", "x"]);
        assert!(split_words("\"open").is_none());
    }
}
