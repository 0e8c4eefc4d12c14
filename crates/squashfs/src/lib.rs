// SPDX-License-Identifier: Apache-2.0
//! squashfs reader and the unprivileged FUSE server that serves a SIF partition.
//!
//! * Reader ([`Archive`]): squashfs 4.0 over any [`ReadAt`] source (a file window inside a
//!   SIF, or a decrypting LUKS view). Untrusted bytes: every table offset and size is checked
//!   against `bytes_used` and the source length, counts are bounded by constants next to
//!   their parsers, allocations grow only as bytes actually arrive, walks are depth-bounded
//!   and refuse directory cycles. Compressors: gzip/zlib (libdeflate), xz and lzma
//!   (liblzma), lz4 (lz4_flex), zstd; lzo is recognised and refused.
//! * FUSE server ([`fuse::serve`]): our own `/dev/fuse` protocol loop (kernel ABI 7.3x),
//!   worker threads on cloned device fds, a decompressed-block cache shared with a
//!   prefetcher, exits by itself when the mount goes away. See `docs/design/squashfs-fuse.md`.
//! * Image writer ([`build_squashfs`]): `mksquashfs -comp zstd -Xcompression-level 6`,
//!   chosen by `bench/image.sh` (≈10× mksquashfs' default throughput, smaller image).
#![forbid(unsafe_code)]

mod archive;
mod build;
mod cache;
mod compress;
pub mod dir;
mod error;
pub mod fuse;
pub mod inode;
mod meta;
mod source;
pub mod superblock;
mod walk;
pub mod xattr;

pub use archive::{Archive, ArchiveOptions};
pub use build::{BuildCompression, BuildError, BuildOptions, BuildReport, build_squashfs};
pub use compress::Compressor;
pub use error::{ImageError, Result};
pub use source::{FileSource, ReadAt, read_exact_at};
pub use walk::MAX_DEPTH;
