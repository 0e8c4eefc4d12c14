// SPDX-License-Identifier: Apache-2.0
//! Shared helpers of the `run_*` suites: a test image (busybox rootfs, `.singularity.d`
//! scripts, a static setuid-root `euid` reporter) packed with `mksquashfs` into a SIF with
//! `stockade_sif::Builder`; an unprivileged test user; running `stockade` as root or as
//! that user; leftover checks (mounts, loop devices, processes holding the image).

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use stockade_sif::{Arch, Builder, DataType, FsType, ObjectInput, PartType, PartitionMeta};

/// The unprivileged user the suites run as.
pub const USER: &str = "sk-run";

/// The `stockade` binary under test.
pub fn stockade() -> PathBuf {
    stockade_testutil::target_bin("stockade")
}

/// `(uid, gid, home)` of [`USER`], created (with a home and subordinate ids) when missing.
pub fn test_user() -> (u32, u32, PathBuf) {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, USER]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    if id("-u").is_none() {
        let st = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", USER])
            .status()
            .unwrap();
        assert!(st.success() || id("-u").is_some(), "useradd {USER} failed");
    }
    let home = PathBuf::from(format!("/home/{USER}"));
    std::fs::create_dir_all(&home).unwrap();
    let (uid, gid) = (id("-u").unwrap(), id("-g").unwrap());
    std::os::unix::fs::chown(&home, Some(uid), Some(gid)).unwrap();
    (uid, gid, home)
}

/// A world-readable temporary directory (the test user must reach images in it).
pub fn shared_tempdir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("sk-run-test")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

const EUID_C: &str = "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"%d %d\\n\", (int)getuid(), (int)geteuid());return 0;}\n";

/// Fills `root` with the test image's root filesystem.
pub fn test_rootfs(root: &Path) {
    stockade_testutil::busybox_rootfs(root).unwrap();
    for d in [".singularity.d/env", "var/tmp", "home"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let sd = root.join(".singularity.d");
    write_exec(
        &sd.join("env/90-environment.sh"),
        "#!/bin/sh\nexport FROM_IMAGE=image\nexport OVERRIDE_ME=image\n",
    );
    write_exec(
        &sd.join("runscript"),
        "#!/bin/sh\necho \"runscript args: $*\"\n",
    );
    write_exec(&sd.join("test"), "#!/bin/sh\necho test-ok\n");
    std::fs::write(
        sd.join("labels.json"),
        "{\n\t\"org.test.b\": \"2\",\n\t\"org.test.a\": \"<1>\"\n}",
    )
    .unwrap();
    std::fs::write(root.join("etc/hosts"), "").unwrap();
    let c = root.join("euid.c");
    std::fs::write(&c, EUID_C).unwrap();
    let st = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(root.join("bin/euid"))
        .arg(&c)
        .status()
        .unwrap();
    assert!(st.success(), "cc -static failed");
    std::fs::remove_file(&c).unwrap();
    // setuid root, and setuid to another user (what root could gain): neither may apply
    let other = root.join("bin/euid4242");
    std::fs::copy(root.join("bin/euid"), &other).unwrap();
    std::os::unix::fs::chown(&other, Some(4242), Some(4242)).unwrap();
    for p in [root.join("bin/euid"), other] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o4755)).unwrap();
    }
}

fn write_exec(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Packs `root` with mksquashfs.
pub fn squashfs(root: &Path, out: &Path) {
    let st = Command::new("mksquashfs")
        .arg(root)
        .arg(out)
        .args(["-noappend", "-quiet", "-no-progress", "-comp", "gzip"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "mksquashfs failed");
}

/// A SIF with `partition` as its primary squashfs partition and a Deffile.
pub fn sif_from_squashfs(partition: &Path, out: &Path) {
    let data = std::fs::read(partition).unwrap();
    let meta = PartitionMeta {
        fs_type: FsType::SQUASHFS,
        part_type: PartType::PRIM_SYS,
        arch: Arch::host(),
    };
    Builder::new()
        .object(
            ObjectInput::from_bytes(DataType::DEFFILE, b"Bootstrap: scratch\n".to_vec())
                .group(Some(1)),
        )
        .object(
            ObjectInput::from_bytes(DataType::PARTITION, data)
                .group(Some(1))
                .partition(meta),
        )
        .create(out)
        .unwrap();
    std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// The standard test image in `dir`: `(sif, rootfs dir)`.
pub fn test_image(dir: &Path) -> (PathBuf, PathBuf) {
    let root = dir.join("rootfs");
    test_rootfs(&root);
    let sq = dir.join("root.sqfs");
    squashfs(&root, &sq);
    let sif = dir.join("test.sif");
    sif_from_squashfs(&sq, &sif);
    std::fs::remove_file(sq).unwrap();
    (sif, root)
}

/// `stockade ARGS` as root, in `cwd`.
pub fn run_root(cwd: &Path, args: &[&str]) -> Output {
    Command::new(stockade())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `stockade ARGS` as [`USER`] (real and effective ids, its groups), in `cwd`.
pub fn run_user(cwd: &Path, args: &[&str]) -> Output {
    user_command(cwd, args).output().unwrap()
}

/// The command [`run_user`] runs (stdin null), to add environment or change stdio.
pub fn user_command(cwd: &Path, args: &[&str]) -> Command {
    let (uid, gid, home) = test_user();
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid",
        &uid.to_string(),
        "--regid",
        &gid.to_string(),
        "--init-groups",
        "--",
    ])
    .arg(stockade())
    .args(args)
    .current_dir(cwd)
    .env("HOME", &home)
    .env("USER", USER)
    .env_remove("XDG_RUNTIME_DIR")
    .stdin(Stdio::null());
    c
}

/// stdout as text, asserting success.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stockade failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Pids of processes (other than the test) with `path` open (fds or mappings).
pub fn holders(path: &Path) -> Vec<i32> {
    let me = i32::try_from(std::process::id()).unwrap();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(e.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == path))
        {
            out.push(pid);
        }
    }
    out
}

/// Loop devices backed by `path`.
pub fn loops_of(path: &Path) -> String {
    let out = Command::new("losetup")
        .arg("-j")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Host mount table lines mentioning `needle`.
pub fn host_mounts_with(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

/// Polls `cond` for up to 5 s.
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    cond()
}

/// Asserts nothing of a run of `image` survived: no loop device on it, no process holding
/// it (FUSE server, guard, container), no session mount visible on the host.
pub fn assert_nothing_left(image: &Path) {
    assert!(
        eventually(|| loops_of(image).is_empty()),
        "loop device left: {}",
        loops_of(image)
    );
    assert!(
        eventually(|| holders(image).is_empty()),
        "processes still hold {}: {:?}",
        image.display(),
        holders(image)
    );
    let name = image.display().to_string();
    assert!(
        host_mounts_with(&name).is_empty(),
        "mounts left: {:?}",
        host_mounts_with(&name)
    );
    let (uid, _, _) = test_user();
    for base in ["/run/stockade".to_string(), format!("/tmp/stockade-{uid}")] {
        let left: Vec<String> = host_mounts_with(&base)
            .into_iter()
            .filter(|l| l.contains(&format!("{base} ")) || l.contains(&format!("{base}/")))
            .collect();
        assert!(
            left.is_empty(),
            "session mounts visible on the host: {left:?}"
        );
    }
}
