// SPDX-License-Identifier: Apache-2.0
//! Loading a bundle: `config.json` read with a size bound, parsed into `oci_spec` types and
//! checked for what the runtime relies on (process, root, absolute cwd, mappings only with a
//! user namespace, one entry per namespace type). Every error names the file.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// Upper bound on `config.json` (runc has none; real configs are a few KiB).
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Errors loading a bundle.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The bundle directory cannot be resolved.
    #[error("cannot resolve bundle {path}")]
    Bundle {
        /// Bundle path as given.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is larger than [`MAX_CONFIG_BYTES`].
    #[error("{path}: larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge {
        /// File.
        path: PathBuf,
    },
    /// `config.json` is not valid JSON for the runtime spec.
    #[error("{path}: malformed")]
    Parse {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// `config.json` parses but asks for something invalid.
    #[error("{path}: {reason}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The root filesystem is missing or not a directory.
    #[error("rootfs {path} does not exist or is not a directory")]
    Rootfs {
        /// Resolved rootfs path.
        path: PathBuf,
    },
}

/// A loaded bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    /// The raw `config.json` bytes (kept in the state dir for `exec`).
    pub raw: Vec<u8>,
    /// The parsed spec.
    pub spec: Spec,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
}

/// Reads and validates `<bundle>/config.json`.
pub fn load_bundle(bundle: &Path) -> Result<Bundle, ConfigError> {
    let dir = std::path::absolute(bundle).map_err(|source| ConfigError::Bundle {
        path: bundle.to_path_buf(),
        source,
    })?;
    let path = dir.join("config.json");
    let raw = read_bounded(&path)?;
    let spec = parse_spec(&path, &raw)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| invalid(&path, "root is missing".into()))?;
    let rootfs = dir.join(root.path());
    if !rootfs.is_dir() {
        return Err(ConfigError::Rootfs { path: rootfs });
    }
    Ok(Bundle {
        dir,
        raw,
        spec,
        rootfs,
    })
}

/// Reads a file of at most [`MAX_CONFIG_BYTES`].
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut raw = Vec::with_capacity(8192);
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(read_err)?;
    if raw.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(raw)
}

/// Parses and validates a spec; `path` names it in errors.
pub fn parse_spec(path: &Path, raw: &[u8]) -> Result<Spec, ConfigError> {
    let spec: Spec =
        crate::compat::parse(raw, "/process").map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
    validate(&spec).map_err(|reason| invalid(path, reason))?;
    Ok(spec)
}

fn invalid(path: &Path, reason: String) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        reason,
    }
}

/// The checks the runtime relies on; returns the reason of the first failure.
pub fn validate(spec: &Spec) -> Result<(), String> {
    let process = spec.process().as_ref().ok_or("process is missing")?;
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err("process.args is empty".into());
    }
    if !process.cwd().is_absolute() {
        return Err(format!(
            "process.cwd {} is not absolute",
            process.cwd().display()
        ));
    }
    for e in process.env().as_deref().unwrap_or_default() {
        if !e.contains('=') || e.contains('\0') {
            return Err(format!("process.env entry {e:?} is not KEY=VALUE"));
        }
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    let mut seen = HashSet::new();
    for ns in namespaces {
        if !seen.insert(ns.typ()) {
            return Err(format!("namespace {} listed twice", ns.typ()));
        }
        if let Some(p) = ns.path()
            && !p.is_absolute()
        {
            return Err(format!(
                "namespace {} path {} is not absolute",
                ns.typ(),
                p.display()
            ));
        }
    }
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    let new_user = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    if has_maps && !new_user {
        return Err("uidMappings/gidMappings need a new user namespace".into());
    }
    if new_user && !has_maps {
        return Err("a new user namespace needs uidMappings and gidMappings".into());
    }
    // a uts namespace joined by path is set too (runc; runtime-tools' linux_ns_path)
    let own_uts = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Uts);
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !own_uts {
        return Err("hostname needs a uts namespace".into());
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !own_uts {
        return Err("domainname needs a uts namespace".into());
    }
    crate::validate::spec_rules(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.2.0",
            "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        })
    }

    fn check(v: &serde_json::Value) -> Result<Spec, ConfigError> {
        parse_spec(Path::new("/b/config.json"), v.to_string().as_bytes())
    }

    #[test]
    fn test_minimal_is_valid() {
        check(&minimal()).unwrap();
    }

    #[test]
    fn test_malformed_names_file() {
        let err = parse_spec(Path::new("/b/config.json"), b"{nope").unwrap_err();
        assert!(err.to_string().contains("/b/config.json"), "{err}");
    }

    #[test]
    fn test_rejects_relative_cwd_and_empty_args() {
        let mut v = minimal();
        v["process"]["cwd"] = "rel".into();
        assert!(check(&v).unwrap_err().to_string().contains("not absolute"));
        let mut v = minimal();
        v["process"]["args"] = serde_json::json!([]);
        assert!(check(&v).unwrap_err().to_string().contains("args is empty"));
    }

    #[test]
    fn test_rejects_duplicate_namespace_and_maps_without_userns() {
        let mut v = minimal();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "pid"}]);
        assert!(check(&v).unwrap_err().to_string().contains("twice"));
        let mut v = minimal();
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        assert!(
            check(&v)
                .unwrap_err()
                .to_string()
                .contains("user namespace")
        );
    }

    #[test]
    fn test_oversized_config_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            vec![b' '; usize::try_from(MAX_CONFIG_BYTES + 1).unwrap()],
        )
        .unwrap();
        assert!(matches!(
            read_bounded(&p),
            Err(ConfigError::TooLarge { .. })
        ));
    }

    #[test]
    fn test_missing_rootfs_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), minimal().to_string()).unwrap();
        let err = load_bundle(dir.path()).unwrap_err();
        assert!(matches!(err, ConfigError::Rootfs { .. }), "{err}");
        assert!(err.to_string().contains("rootfs"));
    }
}
