// SPDX-License-Identifier: Apache-2.0
//! The system configuration directory (ECL, global keyring, `stockade.conf`).
//!
//! `/etc/stockade` by default. `STOCKADE_SYSCONFDIR` overrides it **only for root** (real and
//! effective uid 0): anyone else could otherwise point a setuid-like decision (the ECL, the
//! global keyring) at files they wrote. For other users the variable is ignored with a
//! one-line warning.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Once;

/// Default directory.
pub const DEFAULT_SYSCONFDIR: &str = "/etc/stockade";
/// Override variable (root only).
pub const SYSCONFDIR_ENV: &str = "STOCKADE_SYSCONFDIR";

static WARN_ONCE: Once = Once::new();

/// The directory for this process.
pub fn sysconfdir() -> PathBuf {
    let root = rustix::process::getuid().is_root() && rustix::process::geteuid().is_root();
    let (dir, warning) = resolve(std::env::var_os(SYSCONFDIR_ENV), root);
    if let Some(w) = warning {
        WARN_ONCE.call_once(|| tracing::warn!("{w}"));
    }
    dir
}

/// Pure decision: the directory, and a warning when the variable was ignored.
pub fn resolve(env: Option<OsString>, root: bool) -> (PathBuf, Option<String>) {
    match env.filter(|v| !v.is_empty()) {
        None => (PathBuf::from(DEFAULT_SYSCONFDIR), None),
        Some(v) if root => (PathBuf::from(v), None),
        Some(v) => (
            PathBuf::from(DEFAULT_SYSCONFDIR),
            Some(format!(
                "{SYSCONFDIR_ENV}={} ignored: only root may change the system configuration \
                 directory, using {DEFAULT_SYSCONFDIR}",
                PathBuf::from(v).display()
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_may_override() {
        assert_eq!(
            resolve(None, false),
            (PathBuf::from(DEFAULT_SYSCONFDIR), None)
        );
        assert_eq!(
            resolve(Some("/x".into()), true),
            (PathBuf::from("/x"), None)
        );
        assert_eq!(
            resolve(Some("".into()), true).0,
            PathBuf::from(DEFAULT_SYSCONFDIR)
        );
        let (dir, warn) = resolve(Some("/home/u/conf".into()), false);
        assert_eq!(dir, PathBuf::from(DEFAULT_SYSCONFDIR));
        assert!(warn.unwrap().contains("/home/u/conf ignored: only root"));
    }
}
