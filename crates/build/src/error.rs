// SPDX-License-Identifier: Apache-2.0
//! Build errors: each names the file (and member, line or section) concerned.

use std::io;
use std::path::PathBuf;

use crate::extract::ExtractError;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The source could not be opened.
    #[error("cannot open {path}")]
    OpenSource {
        /// The source.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A member of an image archive or layout is missing or malformed.
    #[error("{}{}{member}: {problem}", path.display(), if member.is_empty() { "" } else { ": " })]
    Archive {
        /// Archive or layout directory.
        path: PathBuf,
        /// Member name (may be empty).
        member: String,
        /// What is wrong.
        problem: String,
    },
    /// A JSON member of an image archive or layout does not parse.
    #[error("{}: {member}: invalid JSON", path.display())]
    ArchiveJson {
        /// Archive or layout directory.
        path: PathBuf,
        /// Member name.
        member: String,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
    /// A layer could not be applied.
    #[error("{}: layer {layer}", path.display())]
    Layer {
        /// Archive or layout directory.
        path: PathBuf,
        /// Layer name or digest.
        layer: String,
        /// The error.
        #[source]
        source: ExtractError,
    },
    /// A definition file is malformed.
    #[error("{}:{line}: {problem}", path.display())]
    DefFile {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 = whole file).
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// The source names a transport that needs a network.
    #[error(
        "source {spec}: the '{transport}' transport needs a network; save the image with 'podman save' and build from docker-archive: or oci-archive:"
    )]
    NetworkSource {
        /// The `SOURCE` argument.
        spec: String,
        /// Its transport.
        transport: String,
    },
    /// The primary partition of a SIF source is missing or cannot be used as asked.
    #[error("{}: {problem}", path.display())]
    Partition {
        /// The SIF.
        path: PathBuf,
        /// What is wrong.
        problem: &'static str,
    },
    /// A source directory nests deeper than the copy allows.
    #[error("{}: directories nested too deeply", .0.display())]
    TooDeep(PathBuf),
    /// The output path is a directory.
    #[error("{} is a directory", .0.display())]
    OutputIsDir(PathBuf),
    /// The output exists and `--force` was not given.
    #[error("{} already exists (use --force to overwrite)", .0.display())]
    OutputExists(PathBuf),
    /// A filesystem step failed.
    #[error("cannot {step} {}", path.display())]
    Io {
        /// What was attempted.
        step: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Building the squashfs image failed.
    #[error("cannot build the squashfs image")]
    Squashfs(#[source] stockade_squashfs::BuildError),
    /// Reading a squashfs image failed.
    #[error("cannot read the squashfs partition of {}", path.display())]
    SquashfsRead {
        /// The SIF.
        path: PathBuf,
        /// The error.
        #[source]
        source: stockade_squashfs::ImageError,
    },
    /// Reading or writing a SIF failed.
    #[error(transparent)]
    Sif(#[from] stockade_sif::SifError),
    /// Encrypting the partition failed.
    #[error("cannot encrypt the root filesystem")]
    Encrypt(#[source] stockade_luks::FormatError),
    /// Wrapping the key for the recipient failed.
    #[error("cannot wrap the encryption key with {}", path.display())]
    WrapKey {
        /// The PEM file.
        path: PathBuf,
        /// The error.
        #[source]
        source: stockade_luks::WrapError,
    },
    /// A script section of the definition file failed.
    #[error("%{section} failed with exit code {code}")]
    Script {
        /// Section name.
        section: &'static str,
        /// Exit code.
        code: i32,
    },
    /// A script section could not be started.
    #[error("cannot run %{section}")]
    ScriptStart {
        /// Section name.
        section: &'static str,
        /// The error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// An error and its sources joined by `: ` (for embedding in a message).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Shorthand for an [`BuildError::Io`] mapper (of `std::io` or `rustix` errors).
pub fn io_err<E: Into<io::Error>>(
    step: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(E) -> BuildError {
    let path = path.into();
    move |source| BuildError::Io {
        step,
        path,
        source: source.into(),
    }
}
