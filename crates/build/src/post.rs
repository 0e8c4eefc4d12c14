// SPDX-License-Identifier: Apache-2.0
//! Definition-file steps: `%setup` (host shell, root only), `%files` (host → image) and the
//! in-image scripts `%post` and `%test`, run by our own runtime (`stockade-runtime`) in a
//! fresh container over the build tree: `/bin/sh -e` as root (with `--fakeroot`, root of a
//! user namespace mapped to the caller), writable root, host network (so package managers
//! work), the host's `/etc/resolv.conf` and `/etc/hosts` bound read-only, and no seccomp
//! filter. `%test` runs the same way over the finished tree, before it is squashed.

use std::path::Path;

use serde_json::{Value, json};

use crate::deffile::{DefFile, Section, err};
use crate::error::{BuildError, io_err};
use crate::extract::clean;
use crate::extract::tree::Tree;
use crate::pipeline::{BuildOptions, Progress};

/// Where a script is written inside the tree while it runs (removed afterwards).
const SCRIPT: &str = ".stockade-build-script";
/// The capabilities of `%post` and `%test`: the engines' default set.
const CAPS: &[&str] = &stockade_runtime::caps::DEFAULT;

/// Refuses what cannot run with the caller's privileges, before any work is done.
pub fn check_allowed(d: &DefFile, root: bool, fakeroot: bool) -> Result<(), BuildError> {
    if let Some(s) = d.setup.as_ref().filter(|_| !root) {
        return Err(err(
            &d.path,
            s.line,
            "%setup runs on the host as root: build as root, or move it to %post / %files".into(),
        ));
    }
    for (name, s) in [("post", &d.post), ("test", &d.test)] {
        if let Some(s) = s.as_ref().filter(|_| !root && !fakeroot) {
            return Err(err(
                &d.path,
                s.line,
                format!("%{name} needs root inside the image: build as root or with --fakeroot"),
            ));
        }
    }
    Ok(())
}

/// Whether running `d` needs the container runtime (so the binary must be sealed first).
pub fn needs_runtime(d: &DefFile, notest: bool) -> bool {
    d.post.is_some() || (d.test.is_some() && !notest)
}

/// Runs `%setup`, copies `%files`, runs `%post`.
pub fn setup_files_post(
    d: &DefFile,
    tree: &Tree,
    work: &Path,
    o: &BuildOptions,
    p: &mut dyn Progress,
) -> Result<(), BuildError> {
    if let Some(s) = &d.setup {
        p.info("running %setup");
        run_host(s, tree.path())?;
    }
    for f in &d.files {
        let dst = f.dst.clone().unwrap_or_else(|| f.src.clone());
        let dst_rel = clean(dst.as_bytes())
            .map_err(|e| err(&d.path, f.line, format!("%files destination {dst}: {e}")))?;
        let src = Path::new(&f.src);
        if !src.exists() {
            return Err(err(
                &d.path,
                f.line,
                format!("%files source {} does not exist", src.display()),
            ));
        }
        crate::dircopy::copy_in(src, tree, &dst_rel, &mut |_| {})?;
    }
    if let Some(s) = &d.post {
        p.info("running %post");
        run_in_image("post", s, tree, work, o, &[])?;
    }
    Ok(())
}

/// Runs `%test` over the finished tree.
pub fn run_test(
    d: &DefFile,
    tree: &Tree,
    work: &Path,
    o: &BuildOptions,
    p: &mut dyn Progress,
) -> Result<(), BuildError> {
    if let Some(s) = &d.test {
        p.info("running %test");
        run_in_image("test", s, tree, work, o, &[])?;
    }
    Ok(())
}

fn run_host(s: &Section, rootfs: &Path) -> Result<(), BuildError> {
    let status = std::process::Command::new("/bin/sh")
        .args(["-e", "-c", &s.body])
        .env("APPTAINER_ROOTFS", rootfs)
        .env("SINGULARITY_ROOTFS", rootfs)
        .status()
        .map_err(|e| BuildError::ScriptStart {
            section: "setup",
            source: Box::new(e),
        })?;
    match status.code() {
        Some(0) => Ok(()),
        code => Err(BuildError::Script {
            section: "setup",
            code: code.unwrap_or(-1),
        }),
    }
}

fn shell_of(s: &Section) -> String {
    let words: Vec<&str> = s.args.split_whitespace().collect();
    match words.iter().position(|w| *w == "-c") {
        Some(i) if i + 1 < words.len() => words[i + 1].to_string(),
        _ => "/bin/sh".to_string(),
    }
}

fn run_in_image(
    section: &'static str,
    s: &Section,
    tree: &Tree,
    work: &Path,
    o: &BuildOptions,
    extra_env: &[String],
) -> Result<(), BuildError> {
    let rootfs = tree.path();
    let script = format!("{}\n", s.body);
    let mut cache = crate::extract::tree::DirCache::default();
    crate::layout::put_file(tree, &mut cache, SCRIPT, script.as_bytes(), 0o700)
        .map_err(io_err("write the script into", rootfs))?;
    let res = launch(section, s, rootfs, work, o, extra_env);
    let _ = Tree::remove(tree.root(), SCRIPT.as_bytes());
    res
}

fn launch(
    section: &'static str,
    s: &Section,
    rootfs: &Path,
    work: &Path,
    o: &BuildOptions,
    extra_env: &[String],
) -> Result<(), BuildError> {
    let start = |e: Box<dyn std::error::Error + Send + Sync>| BuildError::ScriptStart {
        section,
        source: e,
    };
    let bundle = work.join(format!("bundle-{section}"));
    std::fs::create_dir_all(&bundle).map_err(io_err("create", &bundle))?;
    let spec = spec(
        rootfs,
        &shell_of(s),
        o.fakeroot && !rustix::process::geteuid().is_root(),
        extra_env,
    );
    let data = serde_json::to_vec_pretty(&spec).map_err(|e| start(Box::new(e)))?;
    std::fs::write(bundle.join("config.json"), data)
        .map_err(io_err("write", bundle.join("config.json")))?;
    let rt = stockade_runtime::Runtime::new(stockade_runtime::Runtime::default_root());
    let id = format!("stockade-build-{}-{section}", std::process::id());
    let opts = stockade_runtime::CreateOptions {
        id: &id,
        bundle: &bundle,
        pid_file: None,
        console_socket: None,
        no_pivot: false,
        preserve_fds: 0,
    };
    let code = rt.run(&opts, false).map_err(|e| start(Box::new(e)))?;
    let _ = std::fs::remove_dir_all(&bundle);
    if code != 0 {
        return Err(BuildError::Script { section, code });
    }
    Ok(())
}

/// The OCI config of a build-script container.
fn spec(rootfs: &Path, shell: &str, userns: bool, extra_env: &[String]) -> Value {
    let mut env = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        "HOME=/root".to_string(),
        "APPTAINER_ENVIRONMENT=/.singularity.d/env/91-environment.sh".to_string(),
        "SINGULARITY_ENVIRONMENT=/.singularity.d/env/91-environment.sh".to_string(),
        "APPTAINER_ROOTFS=/".to_string(),
    ];
    env.extend(extra_env.iter().cloned());
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "nodev", "mode=1777"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}),
    ];
    for f in ["/etc/resolv.conf", "/etc/hosts"] {
        // Only over a regular file of the image (a symlink there is left alone).
        let inside = rootfs.join(&f[1..]);
        if std::fs::symlink_metadata(&inside).is_ok_and(|m| m.is_file()) && Path::new(f).is_file() {
            mounts.push(json!({"destination": f, "type": "bind", "source": f, "options": ["rbind", "ro", "nosuid", "nodev"]}));
        }
    }
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    let mut linux = json!({
        "namespaces": [],
        "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    });
    if userns {
        namespaces.push(json!({"type": "user"}));
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    }
    linux["namespaces"] = Value::Array(namespaces);
    json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": [shell, "-e", format!("/{SCRIPT}")],
            "env": env,
            "cwd": "/",
            "capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS}
        },
        "root": {"path": rootfs, "readonly": false},
        "hostname": "stockade-build",
        "mounts": mounts,
        "linux": linux
    })
}
