// SPDX-License-Identifier: Apache-2.0
//! [`Bundle`]: an OCI bundle in a temp dir — busybox rootfs plus the static probe at `/probe`,
//! and a `config.json` from a built-in template (or `<runtime> spec`) that tests mutate with
//! JSON-pointer edits before it is written.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::runtime::Runtime;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Prefix of every cgroup the bundles of these suites ask for (`/stockade-e2e-<id>`).
pub const CGROUP_PREFIX: &str = "stockade-e2e-";

/// A fresh container id: `e2e<pid>-<n>-<tag>`.
pub fn unique_id(tag: &str) -> String {
    format!(
        "e2e{}-{}-{tag}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Default masked paths (the runc example spec's list).
pub const MASKED: [&str; 10] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];

/// Default read-only paths (the runc example spec's list).
pub const READONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The capabilities of the template (runc's example set).
pub const TEMPLATE_CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The built-in config template: like `runc spec` but non-terminal, rootfs writable, no
/// inheritable/ambient capabilities, the probe as process, and an e2e cgroup path.
pub fn template(id: &str) -> Value {
    let m = |dest: &str, ty: &str, src: &str, opts: &[&str]| json!({ "destination": dest, "type": ty, "source": src, "options": opts });
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["/probe", "facts"],
            "env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": TEMPLATE_CAPS, "effective": TEMPLATE_CAPS, "permitted": TEMPLATE_CAPS
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "stockade-e2e",
        "mounts": [
            m("/proc", "proc", "proc", &[]),
            m("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
            m("/dev/pts", "devpts", "devpts", &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            m("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            m("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
            m("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]),
        ],
        "linux": {
            "cgroupsPath": format!("/{CGROUP_PREFIX}{id}"),
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": MASKED,
            "readonlyPaths": READONLY
        }
    })
}

/// `busybox_rootfs`, retried on ETXTBSY: it runs the busybox it just copied, and in a
/// multithreaded test binary another thread's fork can briefly inherit the copy's write fd.
fn build_rootfs(rootfs: &Path) -> Result<()> {
    let mut tries = 0;
    loop {
        match stockade_testutil::busybox_rootfs(rootfs) {
            Err(e) if e.raw_os_error() == Some(26) && tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r.context("busybox rootfs"),
        }
    }
}

/// An OCI bundle in a temp dir.
#[derive(Debug)]
pub struct Bundle {
    dir: tempfile::TempDir,
    id: String,
    config: Value,
}

impl Bundle {
    /// A bundle with a busybox rootfs, the probe at `/probe` and the template config.
    ///
    /// # Errors
    /// When the rootfs cannot be built or the probe is unavailable.
    pub fn new(tag: &str) -> Result<Self> {
        let id = unique_id(tag);
        let dir = tempfile::Builder::new()
            .prefix("stockade-e2e-bundle-")
            .tempdir()?;
        fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
        let rootfs = dir.path().join("rootfs");
        build_rootfs(&rootfs)?;
        fs::set_permissions(
            rootfs.join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )?;
        fs::copy(crate::probe::path(), rootfs.join("probe")).context("copy probe")?;
        let config = template(&id);
        Ok(Self { dir, id, config })
    }

    /// Like [`Bundle::new`] but with the config written by `<runtime> spec`, adapted only so it
    /// can run here: non-terminal, probe as process (the runtime's default profile).
    ///
    /// # Errors
    /// When `spec` fails.
    pub fn from_spec(rt: &Runtime, tag: &str) -> Result<Self> {
        let mut b = Self::new(tag)?;
        let spec_dir = tempfile::tempdir()?;
        let o = rt.cmd(&["spec", "--bundle", &spec_dir.path().to_string_lossy()])?;
        o.check()?;
        let text = fs::read_to_string(spec_dir.path().join("config.json"))
            .context("spec wrote no config.json")?;
        b.config = serde_json::from_str(&text)?;
        b.set("/process/terminal", json!(false))
            .set("/process/args", json!(["/probe", "facts"]));
        let cg = format!("/{CGROUP_PREFIX}{}", b.id);
        b.set("/root/path", json!("rootfs"))
            .set("/linux/cgroupsPath", json!(cg));
        Ok(b)
    }

    /// Container id to use for this bundle.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Gives the bundle another container id (its cgroup path follows).
    pub fn set_id(&mut self, id: &str) -> &mut Self {
        self.id = id.to_string();
        if self.config.pointer("/linux/cgroupsPath").is_some() {
            self.set("/linux/cgroupsPath", json!(format!("/{CGROUP_PREFIX}{id}")));
        }
        self
    }

    /// The bundle directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The bundle directory as a string (for argv).
    pub fn path_str(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }

    /// The rootfs directory.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// The config being built.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The config being built, for arbitrary edits.
    pub fn config_mut(&mut self) -> &mut Value {
        &mut self.config
    }

    /// Sets the value at a JSON pointer, creating missing objects on the way.
    pub fn set(&mut self, pointer: &str, v: Value) -> &mut Self {
        let mut cur = &mut self.config;
        for part in pointer.split('/').skip(1) {
            if !cur.is_object() {
                *cur = json!({});
            }
            cur = cur
                .as_object_mut()
                .expect("made an object above")
                .entry(part.to_string())
                .or_insert(Value::Null);
        }
        *cur = v;
        self
    }

    /// Removes the value at a JSON pointer (no-op when absent).
    pub fn remove(&mut self, pointer: &str) -> &mut Self {
        if let Some((parent, key)) = pointer.rsplit_once('/')
            && let Some(Value::Object(m)) = self.config.pointer_mut(parent)
        {
            m.remove(key);
        }
        self
    }

    /// Appends to the array at a JSON pointer (created when missing).
    pub fn push(&mut self, pointer: &str, v: Value) -> &mut Self {
        if !self.config.pointer(pointer).is_some_and(Value::is_array) {
            self.set(pointer, json!([]));
        }
        if let Some(Value::Array(a)) = self.config.pointer_mut(pointer) {
            a.push(v);
        }
        self
    }

    /// `process.args`.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.set("/process/args", json!(args))
    }

    /// `process.args` = `/probe ARGS`.
    pub fn probe(&mut self, args: &[&str]) -> &mut Self {
        let mut v = vec!["/probe"];
        v.extend_from_slice(args);
        self.set("/process/args", json!(v))
    }

    /// `process.args` = `/bin/sh -c SCRIPT`.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.set("/process/args", json!(["/bin/sh", "-c", script]))
    }

    /// Adds a mount.
    pub fn mount(&mut self, dest: &str, ty: &str, src: &str, opts: &[&str]) -> &mut Self {
        self.push(
            "/mounts",
            json!({ "destination": dest, "type": ty, "source": src, "options": opts }),
        )
    }

    /// Adds a hook of `kind` (`prestart`, `createRuntime`, ..., `poststop`).
    pub fn hook(&mut self, kind: &str, path: &str, args: &[&str]) -> &mut Self {
        self.push(
            &format!("/hooks/{kind}"),
            json!({ "path": path, "args": args }),
        )
    }

    /// Removes the namespace of `ty` from `linux.namespaces`.
    pub fn without_ns(&mut self, ty: &str) -> &mut Self {
        if let Some(Value::Array(a)) = self.config.pointer_mut("/linux/namespaces") {
            a.retain(|n| n["type"] != ty);
        }
        self
    }

    /// Writes `config.json`.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn write(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.config)?;
        fs::write(self.dir.path().join("config.json"), text).context("write config.json")
    }
}
