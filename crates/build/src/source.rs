// SPDX-License-Identifier: Apache-2.0
//! What `stockade build OUT SOURCE` builds from: a root filesystem directory, an OCI layout
//! (`oci:DIR[:tag]`, `oci-archive:FILE[:tag]`), a docker archive (`docker-archive:FILE[:tag]`),
//! a SIF image or a definition file (whose `Bootstrap:`/`From:` name one of the others).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::BuildError;

/// A base image to start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// A root filesystem directory (copied).
    Dir(PathBuf),
    /// A SIF image (its primary squashfs partition).
    Sif(PathBuf),
    /// An OCI layout directory.
    OciDir(PathBuf, Option<String>),
    /// An OCI layout in a tar archive.
    OciArchive(PathBuf, Option<String>),
    /// A `docker save` archive.
    DockerArchive(PathBuf, Option<String>),
    /// Nothing (`Bootstrap: scratch`).
    Scratch,
}

/// The `SOURCE` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A base image built as it is.
    Base(Base),
    /// A definition file.
    DefFile(PathBuf),
}

/// Transports that need a network, refused by name.
const NETWORK: &[&str] = &[
    "docker",
    "library",
    "shub",
    "oras",
    "http",
    "https",
    "docker-daemon",
    "ntfs",
];
/// Package-manager bootstrap agents (need a network and host tools), refused by name.
const AGENTS_UNSUPPORTED: &[&str] = &[
    "docker",
    "library",
    "shub",
    "oras",
    "debootstrap",
    "yum",
    "dnf",
    "zypper",
    "busybox",
    "arch",
    "buildkit",
    "docker-daemon",
];

/// Splits `PATH[:tag]`: the whole string when it names an existing file, else at the last `:`.
fn path_tag(s: &str) -> (PathBuf, Option<String>) {
    if Path::new(s).exists() {
        return (PathBuf::from(s), None);
    }
    match s.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') && !p.is_empty() => {
            (PathBuf::from(p), Some(t.to_string()))
        }
        _ => (PathBuf::from(s), None),
    }
}

impl Source {
    /// Parses the `SOURCE` argument.
    pub fn parse(spec: &str) -> Result<Source, BuildError> {
        if let Some((scheme, rest)) = spec.split_once(':') {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            match scheme {
                "oci-archive" => {
                    return Ok(Source::Base(Base::OciArchive(
                        path_tag(rest).0,
                        path_tag(rest).1,
                    )));
                }
                "docker-archive" => {
                    return Ok(Source::Base(Base::DockerArchive(
                        path_tag(rest).0,
                        path_tag(rest).1,
                    )));
                }
                "oci" => {
                    return Ok(Source::Base(Base::OciDir(
                        path_tag(rest).0,
                        path_tag(rest).1,
                    )));
                }
                s if NETWORK.contains(&s) => {
                    return Err(BuildError::NetworkSource {
                        spec: spec.to_string(),
                        transport: s.to_string(),
                    });
                }
                _ => {}
            }
        }
        let path = PathBuf::from(spec);
        let meta = std::fs::metadata(&path).map_err(|source| BuildError::OpenSource {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            return Ok(Source::Base(Base::Dir(path)));
        }
        if is_sif(&path)? {
            return Ok(Source::Base(Base::Sif(path)));
        }
        Ok(Source::DefFile(path))
    }
}

/// Whether the file starts like a SIF (`SIF_MAGIC` within its first 2048 bytes, as
/// Apptainer's sniffer looks).
pub fn is_sif(path: &Path) -> Result<bool, BuildError> {
    let mut f = std::fs::File::open(path).map_err(|source| BuildError::OpenSource {
        path: path.to_path_buf(),
        source,
    })?;
    let mut head = Vec::with_capacity(2048);
    (&mut f)
        .take(2048)
        .read_to_end(&mut head)
        .map_err(|source| BuildError::OpenSource {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(head.windows(9).any(|w| w == b"SIF_MAGIC"))
}

/// The base named by a definition file's `Bootstrap:`/`From:` headers.
pub fn base_of(def: &crate::deffile::DefFile) -> Result<Base, BuildError> {
    let h = &def.header;
    let err = |line, problem: String| crate::deffile::err(&def.path, line, problem);
    let from = || {
        h.from.clone().filter(|f| !f.is_empty()).ok_or_else(|| {
            err(
                h.bootstrap_line,
                format!("'Bootstrap: {}' needs a 'From:' header", h.bootstrap),
            )
        })
    };
    let exists = |p: PathBuf| -> Result<PathBuf, BuildError> {
        if p.exists() {
            Ok(p)
        } else {
            Err(err(
                h.from_line,
                format!("From: {} does not exist", p.display()),
            ))
        }
    };
    Ok(match h.bootstrap.as_str() {
        "scratch" => Base::Scratch,
        "localimage" => {
            let p = exists(PathBuf::from(from()?))?;
            if p.is_dir() {
                Base::Dir(p)
            } else if is_sif(&p)? {
                Base::Sif(p)
            } else {
                return Err(err(
                    h.from_line,
                    format!(
                        "From: {} is neither a SIF image nor a directory",
                        p.display()
                    ),
                ));
            }
        }
        "oci-archive" | "docker-archive" | "oci" => {
            let (p, tag) = path_tag(&from()?);
            let p = exists(p)?;
            match h.bootstrap.as_str() {
                "oci-archive" => Base::OciArchive(p, tag),
                "docker-archive" => Base::DockerArchive(p, tag),
                _ => Base::OciDir(p, tag),
            }
        }
        a if AGENTS_UNSUPPORTED.contains(&a) => {
            return Err(err(
                h.bootstrap_line,
                format!(
                    "bootstrap agent '{a}' is not supported (it needs a network); use localimage, oci-archive, docker-archive, oci or scratch"
                ),
            ));
        }
        a => {
            return Err(err(
                h.bootstrap_line,
                format!("unknown bootstrap agent '{a}'"),
            ));
        }
    })
}

/// The `(bootstrap, from)` a base is recorded with (the synthesized definition file of
/// non-definition builds, and the build labels).
pub fn describe(base: &Base) -> (&'static str, String) {
    let with_tag = |p: &Path, t: &Option<String>| match t {
        Some(t) => format!("{}:{t}", p.display()),
        None => p.display().to_string(),
    };
    match base {
        Base::Dir(p) | Base::Sif(p) => ("localimage", p.display().to_string()),
        Base::OciDir(p, t) => ("oci", with_tag(p, t)),
        Base::OciArchive(p, t) => ("oci-archive", with_tag(p, t)),
        Base::DockerArchive(p, t) => ("docker-archive", with_tag(p, t)),
        Base::Scratch => ("scratch", String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            Source::parse("oci-archive:/nonexistent/x.tar:v1").unwrap(),
            Source::Base(Base::OciArchive(
                "/nonexistent/x.tar".into(),
                Some("v1".into())
            ))
        );
        assert_eq!(
            Source::parse("oci:/nonexistent/lay").unwrap(),
            Source::Base(Base::OciDir("/nonexistent/lay".into(), None))
        );
        assert!(
            Source::parse("docker://busybox")
                .unwrap_err()
                .to_string()
                .contains("needs a network")
        );
        assert_eq!(
            Source::parse("/").unwrap(),
            Source::Base(Base::Dir("/".into()))
        );
        assert!(
            Source::parse("/nonexistent/def")
                .unwrap_err()
                .to_string()
                .contains("cannot open /nonexistent/def")
        );
    }
}
