// SPDX-License-Identifier: Apache-2.0
//! Image building: root dirs, OCI and docker archives, SIF sources and definition files into SIF.
//!
//! Design (docs/design/build.md):
//! * **Untrusted layers are applied fd-relative** ([`extract`]): member paths cleaned
//!   lexically (`..` refused), parents resolved with `openat2(RESOLVE_IN_ROOT)`, last
//!   components never followed, whiteouts per the OCI image spec, bounded tar parsing
//!   ([`tar`]) and bounded counts and sizes; blob digests checked while streaming.
//! * **Sources**: directory (hard-linked when nothing modifies the tree in place), OCI
//!   layout directory or archive, docker archive, SIF (unpacked with our squashfs reader,
//!   or its partition copied as it is for a plain re-pack), definition file.
//! * **Layout**: the `/.singularity.d` tree Apptainer's runtime expects ([`layout`]); SIF
//!   objects in Apptainer's order ([`assemble`]).
//! * **Output** is written to a hidden temporary next to OUT and renamed when complete;
//!   the work directory is removed whatever happens. Encrypted builds keep the plaintext
//!   squashfs in a memfd only.
//! * `%post`/`%test` run in a container of our own runtime ([`post`]).
#![forbid(unsafe_code)]

pub mod assemble;
pub mod blobs;
pub mod deffile;
pub mod dircopy;
pub mod error;
pub mod extract;
pub mod image;
pub mod layer;
pub mod layout;
pub mod pipeline;
pub mod populate;
pub mod post;
pub mod repack;
pub mod sif_source;
pub mod source;
pub mod tar;
mod workdir;

pub use assemble::Encryption;
pub use error::BuildError;
pub use pipeline::{BuildOptions, NoProgress, Progress, Report, build};
pub use source::{Base, Source};
