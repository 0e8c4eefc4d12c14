// SPDX-License-Identifier: Apache-2.0
//! Whiteouts (OCI image spec): `.wh.<name>` removes `<name>` of lower layers,
//! `.wh..wh..opq` empties its directory of lower-layer entries; entries created by the same
//! layer survive both.

use std::collections::HashSet;
use std::io;

use super::Extractor;
use super::tree::{self, Tree};

impl Extractor {
    /// Applies the whiteout `parent/.wh.<target>`; `created` holds this layer's paths.
    pub(super) fn whiteout(
        &mut self,
        parent: &[u8],
        target: &[u8],
        created: &HashSet<Vec<u8>>,
    ) -> io::Result<()> {
        let join = |n: &[u8]| {
            if parent.is_empty() {
                n.to_vec()
            } else {
                [parent, b"/", n].concat()
            }
        };
        // `.wh.` names of lower layers apply only to what exists: never create parents for them.
        let Ok(dir) = self.tree.resolve(parent) else {
            return Ok(());
        };
        if target == b".wh..opq" {
            let flags = rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC;
            let rd = rustix::fs::openat(&dir, ".", flags, rustix::fs::Mode::empty())?;
            for child in tree::children(&rd)? {
                if !created.contains(&join(&child)) {
                    Tree::remove(std::os::fd::AsFd::as_fd(&rd), &child)?;
                }
            }
        } else if target.starts_with(b".wh.") {
            // Other aufs metadata (.wh..wh.plnk, ...): nothing to apply.
        } else if !created.contains(&join(target)) {
            Tree::remove(std::os::fd::AsFd::as_fd(&dir), target)?;
        }
        self.cache.clear();
        Ok(())
    }
}
