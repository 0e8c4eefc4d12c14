// SPDX-License-Identifier: Apache-2.0
//! The administrator's configuration, `<sysconfdir>/stockade.conf` (TOML).
//!
//! A missing file means the defaults. Anything else that is wrong (not a regular file, not
//! owned by root, writable by group or others, larger than [`MAX_CONF_BYTES`], malformed,
//! an unknown key, a relative path) is an error naming the file and the line: the caller
//! refuses to run anything. Keys and defaults: `docs/design/admin-config.md`.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// File name inside the system configuration directory.
pub const CONF_FILE: &str = "stockade.conf";
/// Upper bound on the file size.
pub const MAX_CONF_BYTES: u64 = 64 << 10;
/// Upper bound on the entries of one list.
pub const MAX_LIST: usize = 1024;

/// Errors loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The file cannot be opened or read.
    #[error("cannot read {path}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a root-owned regular file writable only by root, or too large.
    #[error("{path}: {problem}")]
    Unsafe {
        /// File.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Malformed or invalid content.
    #[error("{path}:{line}: {problem}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

/// An owner in `limit_container_owners`: a uid or a user name.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OwnerSpec {
    Uid(u32),
    Name(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    allow_kernel_squashfs: bool,
    bind_paths: Spanned<Vec<String>>,
    user_bind_control: Option<Spanned<Vec<String>>>,
    limit_container_owners: Option<Spanned<Vec<OwnerSpec>>>,
    limit_container_paths: Option<Spanned<Vec<String>>>,
    allow_sandbox: bool,
    allow_fakeroot: bool,
    allow_encrypted: bool,
    allow_pid_ns: bool,
    allow_net_none: bool,
    mount_home: bool,
    mount_tmp: bool,
    sessiondir_max_size_mib: u32,
}

impl Default for Raw {
    fn default() -> Self {
        let d = AdminConfig::default();
        Raw {
            allow_kernel_squashfs: d.allow_kernel_squashfs,
            bind_paths: Spanned::new(
                0..0,
                d.bind_paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
            ),
            user_bind_control: None,
            limit_container_owners: None,
            limit_container_paths: None,
            allow_sandbox: d.allow_sandbox,
            allow_fakeroot: d.allow_fakeroot,
            allow_encrypted: d.allow_encrypted,
            allow_pid_ns: d.allow_pid_ns,
            allow_net_none: d.allow_net_none,
            mount_home: d.mount_home,
            mount_tmp: d.mount_tmp,
            sessiondir_max_size_mib: d.sessiondir_max_size_mib,
        }
    }
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Privileged runs of a non-root identity may use kernel squashfs mounts (never for
    /// plain users, who cannot mount squashfs; see the design note).
    pub allow_kernel_squashfs: bool,
    /// Host paths bound into every container (skipped when missing on the host).
    pub bind_paths: Vec<PathBuf>,
    /// Allowed source prefixes of user `--bind`s; `None` = anything the user can read.
    pub user_bind_control: Option<Vec<PathBuf>>,
    /// Owners (uids) whose images may run; `None` = anyone.
    pub limit_container_owners: Option<Vec<u32>>,
    /// Directories images must live in; `None` = anywhere.
    pub limit_container_paths: Option<Vec<PathBuf>>,
    /// Sandbox directories may run.
    pub allow_sandbox: bool,
    /// `--fakeroot` is allowed.
    pub allow_fakeroot: bool,
    /// Encrypted images may run.
    pub allow_encrypted: bool,
    /// `--pid`/`--containall` may create a pid namespace.
    pub allow_pid_ns: bool,
    /// `--net --network none` is allowed.
    pub allow_net_none: bool,
    /// Bind the home directory by default.
    pub mount_home: bool,
    /// Bind `/tmp` and `/var/tmp` by default.
    pub mount_tmp: bool,
    /// Size of each private tmpfs (session directory, `--writable-tmpfs`, contained dirs).
    pub sessiondir_max_size_mib: u32,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            allow_kernel_squashfs: false,
            bind_paths: ["/etc/localtime", "/etc/hosts", "/etc/resolv.conf"]
                .iter()
                .map(PathBuf::from)
                .collect(),
            user_bind_control: None,
            limit_container_owners: None,
            limit_container_paths: None,
            allow_sandbox: true,
            allow_fakeroot: true,
            allow_encrypted: true,
            allow_pid_ns: true,
            allow_net_none: true,
            mount_home: true,
            mount_tmp: true,
            sessiondir_max_size_mib: 64,
        }
    }
}

/// Loads `<sysconfdir>/stockade.conf` (defaults when it does not exist).
pub fn load(sysconfdir: &Path) -> Result<AdminConfig, AdminError> {
    let path = sysconfdir.join(CONF_FILE);
    let read_err = |source| AdminError::Read {
        path: path.clone(),
        source,
    };
    let nofollow = i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0);
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nofollow)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AdminConfig::default()),
        Err(e) => return Err(read_err(e)),
    };
    let meta = file.metadata().map_err(read_err)?;
    let unsafe_file = |problem: String| AdminError::Unsafe {
        path: path.clone(),
        problem,
    };
    if !meta.file_type().is_file() {
        return Err(unsafe_file("not a regular file".into()));
    }
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(unsafe_file(format!(
            "must be owned by root and writable only by root (uid {}, mode {:o})",
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    let mut text = String::new();
    file.take(MAX_CONF_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_CONF_BYTES {
        return Err(unsafe_file(format!("larger than {MAX_CONF_BYTES} bytes")));
    }
    parse(&text, &path, &|name| crate::launch::user::uid_of_name(name))
}

/// Parses and checks the text of the file; `uid_of` resolves user names.
pub fn parse(
    text: &str,
    path: &Path,
    uid_of: &dyn Fn(&str) -> Option<u32>,
) -> Result<AdminConfig, AdminError> {
    let raw: Raw = toml::from_str(text).map_err(|e| AdminError::Invalid {
        path: path.to_path_buf(),
        line: line_of(text, e.span().map_or(0, |s| s.start)),
        problem: e.message().trim_end().replace('\n', " "),
    })?;
    let bad = |span: std::ops::Range<usize>, problem: String| AdminError::Invalid {
        path: path.to_path_buf(),
        line: line_of(text, span.start),
        problem,
    };
    let paths = |key: &str, v: &Spanned<Vec<String>>| -> Result<Vec<PathBuf>, AdminError> {
        if v.get_ref().len() > MAX_LIST {
            return Err(bad(
                v.span(),
                format!("{key}: more than {MAX_LIST} entries"),
            ));
        }
        v.get_ref()
            .iter()
            .map(|p| {
                let pb = PathBuf::from(p);
                if !pb.is_absolute()
                    || pb
                        .components()
                        .any(|c| c == std::path::Component::ParentDir)
                {
                    return Err(bad(
                        v.span(),
                        format!("{key}: {p:?} is not an absolute path without .."),
                    ));
                }
                Ok(pb)
            })
            .collect()
    };
    let owners = match &raw.limit_container_owners {
        None => None,
        Some(v) => Some(
            v.get_ref()
                .iter()
                .map(|o| match o {
                    OwnerSpec::Uid(u) => Ok(*u),
                    OwnerSpec::Name(n) => uid_of(n).ok_or_else(|| {
                        bad(
                            v.span(),
                            format!("limit_container_owners: unknown user {n:?}"),
                        )
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    if raw.sessiondir_max_size_mib == 0 || raw.sessiondir_max_size_mib > 1 << 20 {
        return Err(bad(
            0..0,
            "sessiondir_max_size_mib must be between 1 and 1048576".into(),
        ));
    }
    Ok(AdminConfig {
        allow_kernel_squashfs: raw.allow_kernel_squashfs,
        bind_paths: paths("bind_paths", &raw.bind_paths)?,
        user_bind_control: raw
            .user_bind_control
            .as_ref()
            .map(|v| paths("user_bind_control", v))
            .transpose()?,
        limit_container_owners: owners,
        limit_container_paths: raw
            .limit_container_paths
            .as_ref()
            .map(|v| paths("limit_container_paths", v))
            .transpose()?,
        allow_sandbox: raw.allow_sandbox,
        allow_fakeroot: raw.allow_fakeroot,
        allow_encrypted: raw.allow_encrypted,
        allow_pid_ns: raw.allow_pid_ns,
        allow_net_none: raw.allow_net_none,
        mount_home: raw.mount_home,
        mount_tmp: raw.mount_tmp,
        sessiondir_max_size_mib: raw.sessiondir_max_size_mib,
    })
}

/// 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<AdminConfig, AdminError> {
        parse(text, Path::new("/etc/stockade/stockade.conf"), &|n| {
            (n == "alice").then_some(1000)
        })
    }

    #[test]
    fn test_empty_file_is_the_defaults() {
        assert_eq!(p("").unwrap(), AdminConfig::default());
    }

    #[test]
    fn test_keys_are_read() {
        let c = p("allow_kernel_squashfs = true\nbind_paths = [\"/opt\"]\n\
                   user_bind_control = [\"/home\", \"/data\"]\n\
                   limit_container_owners = [0, \"alice\"]\nlimit_container_paths = [\"/images\"]\n")
        .unwrap();
        assert!(c.allow_kernel_squashfs);
        assert_eq!(c.bind_paths, vec![PathBuf::from("/opt")]);
        assert_eq!(c.user_bind_control.unwrap().len(), 2);
        assert_eq!(c.limit_container_owners, Some(vec![0, 1000]));
        assert_eq!(
            c.limit_container_paths,
            Some(vec![PathBuf::from("/images")])
        );
    }

    #[test]
    fn test_errors_name_file_and_line() {
        let e = p("allow_sandbox = true\n\nbogus_key = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/etc/stockade/stockade.conf:3: "), "{e}");
        let e = p("bind_paths = [\n\"relative\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":1: bind_paths: \"relative\" is not an absolute"),
            "{e}"
        );
        let e = p("allow_sandbox = \"yes\"\n").unwrap_err().to_string();
        assert!(e.contains("stockade.conf:1:"), "{e}");
        let e = p("limit_container_owners = [\"mallory\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown user \"mallory\""), "{e}");
        assert!(p("[table\n").is_err());
    }
}
