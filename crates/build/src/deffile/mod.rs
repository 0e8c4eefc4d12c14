// SPDX-License-Identifier: Apache-2.0
//! Definition files (Apptainer's `.def` syntax): a header of `Key: value` lines (keys
//! case-insensitive, `#` comments, `\` continuation) followed by `%section [args]` blocks.
//! `%arguments` defines `{{ NAME }}` substitutions (overridable by `--build-arg`), applied
//! before anything else is parsed. Every error names the file and the 1-based line.
//! Refused by name: multi-stage files, `%files from <stage>`, SCIF `%app*` and `%pre`.

mod args;
mod parts;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::BuildError;
pub use args::MAX_EXPANDED;
pub use parts::{FileCopy, Header};

/// Largest definition file read.
pub const MAX_DEFFILE: u64 = 1 << 20;

/// A script section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// Text after the section name on its line (`-c /bin/bash`).
    pub args: String,
    /// The lines of the section, `\n`-joined.
    pub body: String,
    /// Line of the `%section` keyword.
    pub line: usize,
}

/// A parsed definition file.
#[derive(Debug, Clone, Default)]
pub struct DefFile {
    /// The file (for messages).
    pub path: PathBuf,
    /// The file as read (stored in the image as the `Deffile` object).
    pub raw: Vec<u8>,
    /// Header values.
    pub header: Header,
    /// `%setup`, run on the host.
    pub setup: Option<Section>,
    /// `%post`, run in the image.
    pub post: Option<Section>,
    /// `%environment`.
    pub environment: Option<Section>,
    /// `%runscript`.
    pub runscript: Option<Section>,
    /// `%startscript`.
    pub startscript: Option<Section>,
    /// `%test`.
    pub test: Option<Section>,
    /// `%help`.
    pub help: Option<Section>,
    /// `%labels` in order.
    pub labels: Vec<(String, String)>,
    /// `%files` entries in order.
    pub files: Vec<FileCopy>,
}

/// Sections this builder understands.
const SECTIONS: &[&str] = &[
    "help",
    "setup",
    "files",
    "labels",
    "environment",
    "post",
    "runscript",
    "test",
    "startscript",
    "arguments",
];

impl DefFile {
    /// Reads and parses `path`; `build_args` override `%arguments` defaults.
    pub fn load(path: &Path, build_args: &BTreeMap<String, String>) -> Result<DefFile, BuildError> {
        let meta = std::fs::metadata(path).map_err(|source| BuildError::OpenSource {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.len() > MAX_DEFFILE {
            return Err(err(path, 0, format!("larger than {MAX_DEFFILE} bytes")));
        }
        let raw = std::fs::read(path).map_err(|source| BuildError::OpenSource {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, raw, build_args)
    }

    /// Parses definition text (at most [`MAX_DEFFILE`] bytes are expected, as `load` reads).
    pub fn parse(
        path: &Path,
        raw: Vec<u8>,
        build_args: &BTreeMap<String, String>,
    ) -> Result<DefFile, BuildError> {
        let text = utf8_text(path, &raw)?;
        let lines: Vec<&str> = text.lines().collect();
        let blocks = split_sections(&lines);
        let lines_sub = args::expand(path, &lines, &blocks, build_args)?;
        let header_end = blocks.first().map_or(lines_sub.len(), |b| b.start - 1);
        let mut d = DefFile {
            path: path.to_path_buf(),
            header: Header::parse(path, &lines_sub[..header_end])?,
            ..Default::default()
        };
        for b in &blocks {
            d.add_section(b, &lines_sub)?;
        }
        if d.header.bootstrap.is_empty() {
            return Err(err(path, 1, "missing 'Bootstrap:' header".into()));
        }
        d.raw = raw;
        Ok(d)
    }

    fn add_section(&mut self, b: &Block, lines: &[String]) -> Result<(), BuildError> {
        let line = b.start; // keyword line (1-based) is start
        let mut end = b.end;
        while end > b.start && lines[end - 1].trim().is_empty() {
            end -= 1; // trailing blank lines belong to no section
        }
        let body = lines[b.start..end].join("\n");
        let sec = Section {
            args: b.args.clone(),
            body,
            line,
        };
        let path = self.path.clone();
        let slot = match b.name.as_str() {
            "help" => &mut self.help,
            "setup" => &mut self.setup,
            "post" => &mut self.post,
            "environment" => &mut self.environment,
            "runscript" => &mut self.runscript,
            "startscript" => &mut self.startscript,
            "test" => &mut self.test,
            "arguments" => return Ok(()),
            "labels" => {
                self.labels
                    .extend(parts::parse_labels(&lines[b.start..b.end]));
                return Ok(());
            }
            "files" => {
                if !b.args.trim().is_empty() {
                    return Err(err(
                        &path,
                        line,
                        format!(
                            "'%files {}' (copying from another stage) is not supported: multi-stage builds are not supported",
                            b.args.trim()
                        ),
                    ));
                }
                let files = parts::parse_files(&path, &lines[b.start..b.end], b.start + 1)?;
                self.files.extend(files);
                return Ok(());
            }
            n if n.starts_with("app") => {
                return Err(err(
                    &path,
                    line,
                    format!("SCIF app section %{n} is not supported"),
                ));
            }
            "pre" => {
                return Err(err(
                    &path,
                    line,
                    "%pre is not supported (use %setup)".into(),
                ));
            }
            n => {
                return Err(err(
                    &path,
                    line,
                    format!("unknown section %{n} (known: %{})", SECTIONS.join(", %")),
                ));
            }
        };
        match slot {
            // Repeated sections are concatenated, as Apptainer does.
            Some(s) => {
                s.body.push('\n');
                s.body.push_str(&sec.body);
            }
            None => *slot = Some(sec),
        }
        Ok(())
    }
}

/// A `%name args` block: its body spans lines `[start, end)` (0-based; the keyword line is
/// `start - 1`, i.e. line number `start` 1-based).
#[derive(Debug)]
struct Block {
    name: String,
    args: String,
    start: usize,
    end: usize,
}

/// The file as text; an error names the line of the first invalid byte.
fn utf8_text<'a>(path: &Path, raw: &'a [u8]) -> Result<&'a str, BuildError> {
    std::str::from_utf8(raw).map_err(|e| {
        let line = raw[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        err(path, line, "not UTF-8 text".into())
    })
}

fn split_sections(lines: &[&str]) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix('%') {
            let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if let Some(last) = out.last_mut() {
                last.end = i;
            }
            out.push(Block {
                name: name.to_ascii_lowercase(),
                args: args.trim().to_string(),
                start: i + 1,
                end: lines.len(),
            });
        }
    }
    out
}

/// A definition-file error at `line`.
pub fn err(path: &Path, line: usize, problem: String) -> BuildError {
    BuildError::DefFile {
        path: path.to_path_buf(),
        line,
        problem,
    }
}

#[cfg(test)]
mod tests;
