// SPDX-License-Identifier: Apache-2.0
//! Depth-first traversal of a whole image, bounded in depth, refusing directory cycles (an
//! entry pointing at an ancestor) and directories listed twice (which would let a hostile
//! image make the walk exponential): every directory is visited once.

use std::collections::HashSet;
use std::sync::Arc;

use crate::archive::Archive;
use crate::error::{ImageError, Result};
use crate::inode::{Body, Inode};

/// Deepest directory nesting walked (a path of 4096 bytes has at most 2048 components).
pub const MAX_DEPTH: usize = 2048;

impl Archive {
    /// Calls `visit(path, inode)` for every inode below the root (root first, path `""`);
    /// paths are `/`-joined raw names.
    pub fn walk(&self, visit: &mut dyn FnMut(&[u8], &Inode) -> Result<()>) -> Result<()> {
        let root = self.root()?;
        visit(b"", &root)?;
        let mut path = Vec::new();
        let mut seen = HashSet::from([root.reference]);
        self.walk_dir(&root, &mut path, &mut seen, 1, visit)
    }

    fn walk_dir(
        &self,
        dir: &Arc<Inode>,
        path: &mut Vec<u8>,
        seen: &mut HashSet<u64>,
        depth: usize,
        visit: &mut dyn FnMut(&[u8], &Inode) -> Result<()>,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(ImageError::TooDeep(MAX_DEPTH));
        }
        let listing = self.listing(dir)?;
        for e in &listing.entries {
            let child = self.inode(e.inode_ref)?;
            let len = path.len();
            if len > 0 {
                path.push(b'/');
            }
            path.extend_from_slice(&e.name);
            visit(path, &child)?;
            if let Body::Dir { .. } = child.body {
                if !seen.insert(child.reference) {
                    return Err(ImageError::DirCycle(child.number));
                }
                self.walk_dir(&child, path, seen, depth + 1, visit)?;
            }
            path.truncate(len);
        }
        Ok(())
    }
}
