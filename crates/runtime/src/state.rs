// SPDX-License-Identifier: Apache-2.0
//! The state directory: `<root>/<id>/` holds `state.json` (what `state`, `kill`, `exec` and
//! `delete` need), a copy of `config.json` and, between `create` and `start`, `start.sock`.
//! Creating the directory is the duplicate-id check (`mkdir` fails with `EEXIST`);
//! `state.json` is written to a temporary name and renamed; an exclusive `flock` on the
//! directory serialises `start` and `delete`.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};

/// Longest container id accepted.
pub const MAX_ID_LEN: usize = 1024;

/// Errors of the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The id has characters outside `[A-Za-z0-9_+.-]` or is `.`/`..`/empty/too long.
    #[error("invalid container id {0:?}")]
    InvalidId(String),
    /// The id is in use.
    #[error("container {0} already exists")]
    Exists(String),
    /// No container with this id.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// A file of the state directory cannot be read or written.
    #[error("{path}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `state.json` is corrupt.
    #[error("{path}: corrupt state")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

/// What the runtime keeps about a container (serialised as `state.json`).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Record {
    /// Container id.
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Start time of `pid` (`/proc/<pid>/stat` field 22): a reused pid is never signalled.
    pub start_time: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 in UTC.
    pub created: String,
    /// Uid that created the container.
    pub owner: u32,
    /// The config's annotations.
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Cgroup manager state (`stockade_cgroups::Manager::to_state`).
    #[serde(default)]
    pub cgroup: serde_json::Value,
    /// Created without root privileges.
    pub rootless: bool,
    /// The container has its own pid namespace (killing init kills everything in it).
    pub own_pid_ns: bool,
    /// `CLONE_NEW*` flags of the namespaces that differ from the host's (for `exec`).
    pub ns_flags: u64,
}

/// The state root (`--root`), e.g. `/run/stockade-oci`.
#[derive(Debug, Clone)]
pub struct StateRoot {
    dir: PathBuf,
}

/// An open container state directory, possibly locked.
#[derive(Debug)]
pub struct ContainerDir {
    /// The directory.
    pub path: PathBuf,
    /// Container id.
    pub id: String,
    handle: File,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a container id (runc's rule: `[A-Za-z0-9_+.-]+`, not `.` or `..`).
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_string()))
    }
}

impl StateRoot {
    /// A state root at `dir` (not created until a container is).
    pub fn new(dir: impl Into<PathBuf>) -> StateRoot {
        StateRoot { dir: dir.into() }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Creates `<root>/<id>` (mode 0700); fails with [`StateError::Exists`] when taken.
    pub fn create(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io_err(&self.dir))?;
        let path = self.dir.join(id);
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_string()));
            }
            other => other.map_err(io_err(&path))?,
        }
        let handle = File::open(&path).map_err(io_err(&path))?;
        Ok(ContainerDir {
            path,
            id: id.to_string(),
            handle,
        })
    }

    /// Opens an existing container's directory.
    pub fn open(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        let path = self.dir.join(id);
        match File::open(&path) {
            Ok(handle) => Ok(ContainerDir {
                path,
                id: id.to_string(),
                handle,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StateError::NotFound(id.to_string()))
            }
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Ids of every container under the root (sorted); none when the root does not exist.
    pub fn list(&self) -> Result<Vec<String>, StateError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.dir)(e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("state.json").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| validate_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

impl ContainerDir {
    /// Takes the exclusive lock (blocks while another runtime call holds it).
    pub fn lock(&self) -> Result<(), StateError> {
        rustix::fs::flock(self.handle.as_fd(), FlockOperation::LockExclusive)
            .map_err(|e| io_err(&self.path)(e.into()))
    }

    /// Path of a file in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// A short name for `name` in the directory, through the open handle
    /// (`/proc/self/fd/<n>/<name>`), for unix socket addresses: `sun_path` holds 107 bytes,
    /// and an engine's root plus a 64-hex id does not fit (Docker's default
    /// `/var/run/docker/runtime-runc/moby/<id>/start.sock` is 109).
    pub fn socket_path(&self, name: &str) -> PathBuf {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.handle);
        PathBuf::from(format!("/proc/self/fd/{fd}/{name}"))
    }

    /// Writes `state.json` atomically.
    pub fn save(&self, rec: &Record) -> Result<(), StateError> {
        let data = serde_json::to_vec(rec).map_err(|source| StateError::Corrupt {
            path: self.file("state.json"),
            source,
        })?;
        self.write_atomic("state.json", &data)
    }

    /// Writes `name` atomically (temporary file + rename).
    pub fn write_atomic(&self, name: &str, data: &[u8]) -> Result<(), StateError> {
        let tmp = self.file(&format!(".{name}.tmp"));
        let dst = self.file(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        f.write_all(data).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &dst).map_err(io_err(&dst))
    }

    /// Reads `state.json`.
    pub fn load(&self) -> Result<Record, StateError> {
        let path = self.file("state.json");
        let data = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StateError::NotFound(self.id.clone())
            } else {
                io_err(&path)(e)
            }
        })?;
        serde_json::from_slice(&data).map_err(|source| StateError::Corrupt { path, source })
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<(), StateError> {
        match std::fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&self.path)(e)),
            _ => Ok(()),
        }
    }
}

/// Now, formatted as RFC 3339 UTC with nanoseconds (as runc's `created`).
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs(), now.subsec_nanos())
}

fn rfc3339(secs: u64, nanos: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // civil-from-days (Howard Hinnant's algorithm), days since 1970-01-01
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ids() {
        validate_id("abc-1_2.3+x").unwrap();
        for bad in ["", ".", "..", "a/b", "a b", "x\0"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn test_create_duplicate_load_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let root = StateRoot::new(tmp.path().join("root"));
        let dir = root.create("c1").unwrap();
        assert!(matches!(root.create("c1"), Err(StateError::Exists(_))));
        let rec = Record {
            id: "c1".into(),
            pid: 42,
            ..Record::default()
        };
        dir.save(&rec).unwrap();
        dir.lock().unwrap();
        assert_eq!(root.list().unwrap(), vec!["c1".to_string()]);
        assert_eq!(root.open("c1").unwrap().load().unwrap().pid, 42);
        dir.remove().unwrap();
        assert!(matches!(root.open("c1"), Err(StateError::NotFound(_))));
        assert!(root.list().unwrap().is_empty());
    }

    #[test]
    fn test_rfc3339() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1_709_251_199, 5), "2024-02-29T23:59:59.000000005Z");
    }
}
