// SPDX-License-Identifier: Apache-2.0
//! The private work directory of a build: created in `--tmpdir`, removed through an fd on
//! its parent when dropped, even when the tree inside holds read-only directories.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::error::{BuildError, io_err};
use crate::extract::tree::Tree;

/// The private work directory, removed (even when read-only inside) on drop.
pub(crate) struct WorkDir {
    parent: OwnedFd,
    name: String,
    /// Its path.
    pub(crate) path: PathBuf,
}

impl WorkDir {
    /// Creates `stockade-build-*` in `tmp`.
    pub(crate) fn create(tmp: &Path) -> Result<WorkDir, BuildError> {
        // tempfile's own error would append ` at path "…/stockade-build-XXXX"`: a missing
        // or unusable directory is reported by name first
        std::fs::read_dir(tmp).map_err(io_err("create a work directory in", tmp))?;
        let path = tempfile::Builder::new()
            .prefix("stockade-build-")
            .tempdir_in(tmp)
            .map_err(io_err("create a work directory in", tmp))?
            .keep();
        let flags =
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC;
        let open =
            rustix::fs::open(tmp, flags, rustix::fs::Mode::empty()).map_err(io_err("open", tmp));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match open {
            Ok(parent) => Ok(WorkDir { parent, name, path }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&path);
                Err(e)
            }
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(e) = Tree::remove(std::os::fd::AsFd::as_fd(&self.parent), self.name.as_bytes()) {
            tracing::warn!("cannot remove {}: {e}", self.path.display());
        }
    }
}
