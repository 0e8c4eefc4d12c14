// SPDX-License-Identifier: Apache-2.0
//! Definition files (Apptainer's `.def` syntax): a header of `Key: value` lines (keys
//! case-insensitive, `#` comments, `\` continuation) followed by `%section [args]` blocks.
//! `%arguments` defines `{{ NAME }}` substitutions (overridable by `--build-arg`), applied
//! before anything else is parsed. Every error names the file and the 1-based line.
//! Refused by name: multi-stage files, `%files from <stage>`, SCIF `%app*` and `%pre`.

mod parts;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::BuildError;
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

    /// Parses definition text.
    pub fn parse(
        path: &Path,
        raw: Vec<u8>,
        build_args: &BTreeMap<String, String>,
    ) -> Result<DefFile, BuildError> {
        let text = std::str::from_utf8(&raw).map_err(|e| {
            let line = raw[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            err(path, line, "not UTF-8 text".into())
        })?;
        let lines: Vec<&str> = text.lines().collect();
        let blocks = split_sections(&lines);
        let mut args = BTreeMap::new();
        for b in blocks.iter().filter(|b| b.name == "arguments") {
            parts::parse_arguments(path, &lines[b.start..b.end], b.start + 1, &mut args)?;
        }
        args.extend(build_args.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut lines_sub = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            let in_args = blocks
                .iter()
                .any(|b| b.name == "arguments" && (b.start..b.end).contains(&i));
            lines_sub.push(if in_args {
                (*l).to_string()
            } else {
                parts::substitute(path, l, i + 1, &args)?
            });
        }
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
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<DefFile, BuildError> {
        DefFile::parse(Path::new("t.def"), s.as_bytes().to_vec(), &BTreeMap::new())
    }

    fn msg(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    #[test]
    fn sections_and_header() {
        let d = parse(
            "# comment\nBootStrap: localimage\nFrom: base.sif # trailing\n\n%post\n  echo hi > /x\n  # kept\n%environment\n export A=1\n%runscript\n exec echo \"$@\"\n%labels\n Author me\n Version 1.0\n%help\nhelp text\n%files\n a.txt /opt/a.txt\n \"b c\"\n%test\n true\n",
        )
        .unwrap();
        assert_eq!(d.header.bootstrap, "localimage");
        assert_eq!(d.header.from.as_deref(), Some("base.sif"));
        let post = d.post.unwrap();
        assert_eq!(post.line, 5);
        assert_eq!(post.body, "  echo hi > /x\n  # kept");
        assert_eq!(d.environment.unwrap().body, " export A=1");
        assert_eq!(
            d.labels,
            vec![
                ("Author".into(), "me".into()),
                ("Version".into(), "1.0".into())
            ]
        );
        assert_eq!(d.files.len(), 2);
        assert_eq!(d.files[0].src, "a.txt");
        assert_eq!(d.files[0].dst.as_deref(), Some("/opt/a.txt"));
        assert_eq!(d.files[1].src, "b c");
        assert_eq!(d.files[1].dst, None);
        assert_eq!(d.help.unwrap().body, "help text");
        assert!(d.test.is_some());
    }

    #[test]
    fn header_continuation_and_case() {
        let d = parse("BOOTSTRAP: oci-archive\nfrom: /tmp/a\\\n.tar\n").unwrap();
        assert_eq!(d.header.bootstrap, "oci-archive");
        assert_eq!(d.header.from.as_deref(), Some("/tmp/a.tar"));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            msg("Bootstrap: scratch\n\n%postt\necho\n"),
            "t.def:3: unknown section %postt (known: %help, %setup, %files, %labels, %environment, %post, %runscript, %test, %startscript, %arguments)"
        );
        assert_eq!(
            msg("Bootstrap: scratch\nnonsense line\n"),
            "t.def:2: header line without ':'"
        );
        assert_eq!(
            msg("Bootstrap: scratch\nFrum: x\n"),
            "t.def:2: unknown header keyword 'frum'"
        );
        assert_eq!(
            msg("From: x\n%post\n"),
            "t.def:1: missing 'Bootstrap:' header"
        );
        assert!(
            msg("Bootstrap: docker\nFrom: a\nBootstrap: scratch\n")
                .starts_with("t.def:3: multi-stage")
        );
        assert!(
            msg("Bootstrap: scratch\n%files from build\n a b\n")
                .starts_with("t.def:2: '%files from build'")
        );
        assert!(msg("Bootstrap: scratch\n%files\n a b c\n").starts_with("t.def:3: "));
        assert!(msg("Bootstrap: scratch\n%appinstall foo\n").contains("SCIF"));
        assert_eq!(
            msg("Bootstrap: scratch\n%post\necho {{ NOPE }}\n"),
            "t.def:3: build argument 'NOPE' has no value (define it in %arguments or with --build-arg)"
        );
    }

    #[test]
    fn arguments_substitute() {
        let d = parse("Bootstrap: scratch\n%arguments\n  GREETING=hello\n  N=3\n%post\n echo {{ GREETING }} {{N}}\n").unwrap();
        assert_eq!(d.post.unwrap().body, " echo hello 3");
        let mut over = BTreeMap::new();
        over.insert("GREETING".to_string(), "bye".to_string());
        let d = DefFile::parse(
            Path::new("t.def"),
            b"Bootstrap: scratch\n%arguments\nGREETING=hello\n%post\necho {{ GREETING }}\n"
                .to_vec(),
            &over,
        )
        .unwrap();
        assert_eq!(d.post.unwrap().body, "echo bye");
    }

    #[test]
    fn repeated_sections_concatenate() {
        let d = parse("Bootstrap: scratch\n%post\na\n%post\nb\n").unwrap();
        assert_eq!(d.post.unwrap().body, "a\nb");
    }
}
