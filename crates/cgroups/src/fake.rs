// SPDX-License-Identifier: Apache-2.0
//! Fake cgroup trees in tempdirs for unit tests: hierarchies are plain directories, control
//! files plain files (writes append, see `fsio`), so tests read back every write in order.

use std::path::{Path, PathBuf};

use crate::detect::{Hierarchy, Layout, Unified};

/// A v1 layout with one directory per entry of `hierarchies` (`"cpu,cpuacct"`,
/// `"name=systemd"`), the caller at the root of each.
pub(crate) fn v1(root: &Path, hierarchies: &[&str]) -> Layout {
    Layout::V1 {
        hierarchies: hierarchies.iter().map(|h| hierarchy(root, h)).collect(),
    }
}

pub(crate) fn hierarchy(root: &Path, opts: &str) -> Hierarchy {
    let name = opts.strip_prefix("name=").unwrap_or(opts);
    let mount = root.join(name);
    std::fs::create_dir_all(&mount).unwrap();
    let mut controllers: Vec<String> = opts.split(',').map(String::from).collect();
    controllers.sort();
    Hierarchy {
        mount,
        controllers,
        current: "/".into(),
    }
}

pub(crate) fn unified(root: &Path, controllers: &[&str]) -> Unified {
    let mount = root.join("unified");
    std::fs::create_dir_all(&mount).unwrap();
    Unified {
        mount,
        controllers: controllers.iter().map(|c| c.to_string()).collect(),
        current: "/".into(),
    }
}

pub(crate) fn v2(root: &Path, controllers: &[&str]) -> Layout {
    Layout::V2 {
        unified: unified(root, controllers),
    }
}

/// Creates empty control files in `dir` (as the kernel would on mkdir).
pub(crate) fn touch(dir: &Path, files: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for f in files {
        std::fs::write(dir.join(f), "").unwrap();
    }
}

/// The writes a file received, one per line.
pub(crate) fn writes(path: PathBuf) -> Vec<String> {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(String::from)
        .collect()
}
