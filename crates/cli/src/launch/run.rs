// SPDX-License-Identifier: Apache-2.0
//! [`launch`]: the steps of a run in order (see the module doc of `launch`).

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use rustix::fs::Access;

use super::fuse::{FuseServer, Params};
use super::guard::Guard;
use super::image::{self, Image, KeyOptions, Kind as ImageKind};
use super::plan;
use super::session::{self, Mapping};
use super::user::{self, HostUser};
use super::{Action, LaunchArgs, admin, assemble, binds, container, env, mount, net, prefetch};
use crate::Globals;

/// What is decided before any namespace: the caller, the configuration, the opened image,
/// the user's binds.
pub(super) struct Prepared {
    pub(super) privileged: bool,
    pub(super) user: HostUser,
    pub(super) base: PathBuf,
    pub(super) conf: admin::AdminConfig,
    pub(super) flags: plan::Flags,
    pub(super) img: Image,
    pub(super) host_cwd: PathBuf,
    pub(super) user_binds: Vec<binds::Bind>,
    pub(super) env_file: Option<String>,
    pub(super) mapping: Mapping,
}

/// Runs `action` on `image` with `args`; returns the container's exit status.
pub fn launch(
    action: Action,
    a: &LaunchArgs,
    image_arg: &Path,
    args: &[String],
    g: Globals,
) -> Result<ExitCode> {
    let p = prepare(a, image_arg)?;
    let server = start_server(&p.img, p.privileged, g.debug)?;
    session::enter(p.mapping, &p.user)?;
    let ws = session::mount_workspace(&p.base, p.conf.sessiondir_max_size_mib)?;
    let workspace = Unmount(ws.clone());
    mount::mount_image(&p.img, &ws.join("image"), server.as_ref())?;
    let warm = prefetch::targets(action, args);
    let guard = Guard::start(|| prefetch::warm(&ws.join("image"), &warm))?;
    let config = serde_json::to_vec(&assemble::container_config(&p, &ws, action, a, args)?)?;
    write_private(&ws.join("bundle/config.json"), &config)?;
    if p.flags.net_none {
        net::enter_empty()?;
    }
    let id = format!("stockade-{}", std::process::id());
    let userns = p.mapping != Mapping::Host;
    let code = container::run(&id, &ws.join("bundle"), &config, userns, &mut |pid| {
        guard.arm(pid)
    })
    .with_context(|| format!("cannot run {}", p.img.path.display()))?;
    // tear down now rather than leave it to process exit: the loop device is free when we
    // return, and every child is reaped here (PID 1 of a container host may not reap)
    guard.disarm();
    if let Some(s) = &server {
        s.stop(); // dies while the workspace is detached; reaped below
    }
    drop(workspace);
    drop(server);
    drop(guard);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}

/// Steps 1-5: identity, seal, configuration, image, binds.
fn prepare(a: &LaunchArgs, image_arg: &Path) -> Result<Prepared> {
    let privileged = rustix::process::geteuid().is_root();
    if privileged && !rustix::process::getuid().is_root() {
        bail!("refusing to run setuid-root: run stockade as root or as a plain user");
    }
    let user = user::current();
    let base = session::base_dir(&user, privileged)?;
    seal(privileged, &base)?;
    let sysconf = crate::sysconf::sysconfdir();
    let conf = admin::load(&sysconf)?;
    let flags = plan::flags(a, &conf, privileged)?;
    let keys = KeyOptions {
        passphrase_file: a.passphrase_file.clone(),
        pem_path: a.pem_path.clone(),
    };
    let img = image::open(image_arg, &conf, &keys, &|f, p| ecl_check(&sysconf, f, p))?;
    let host_cwd = std::env::current_dir().context("cannot get the working directory")?;
    let user_binds = user_binds(a, &host_cwd, &conf, privileged)?;
    let env_file = a.env_file.as_deref().map(read_env_file).transpose()?;
    let subids = |file: &str| user::subid_range(&user::read_account_file(Path::new(file)), &user);
    let mapping = match (privileged, flags.fakeroot) {
        (true, _) => Mapping::Host,
        (false, false) => Mapping::Same,
        (false, true) => Mapping::FakeRoot {
            subuid: subids("/etc/subuid"),
            subgid: subids("/etc/subgid"),
        },
    };
    Ok(Prepared {
        privileged,
        user,
        base,
        conf,
        flags,
        img,
        host_cwd,
        user_binds,
        env_file,
        mapping,
    })
}

/// Re-executes from a sealed copy when this binary could be overwritten through a
/// container process (root, or a binary the caller may write); see the design note.
fn seal(privileged: bool, scratch: &Path) -> Result<()> {
    if privileged || rustix::fs::access("/proc/self/exe", Access::WRITE_OK).is_ok() {
        stockade_runtime::seal::ensure_sealed(scratch)?;
    }
    Ok(())
}

/// The ECL decision on the opened image (trust worker's `Ecl`): a list that cannot be
/// loaded denies everything.
fn ecl_check(sysconf: &Path, file: &File, path: &Path) -> Result<()> {
    let ecl = stockade_trust::Ecl::load(sysconf)
        .context("cannot load the ECL: refusing to run any image")?;
    if !ecl.activated() {
        return Ok(());
    }
    immutable_for_caller(file, path)?;
    ecl.check_global(file, path).map_err(|d| anyhow!("{d}"))?;
    Ok(())
}

/// With an active ECL, see [`image::writable_by`].
fn immutable_for_caller(file: &File, path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let uid = rustix::process::getuid().as_raw();
    let m = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?;
    if image::writable_by(m.uid(), m.mode(), uid) {
        bail!(
            "{}: with the ECL active, an image must not be writable by its user \
             (owner uid {}, mode {:o}): ask the administrator to install it",
            path.display(),
            m.uid(),
            m.mode() & 0o7777
        );
    }
    Ok(())
}

fn user_binds(
    a: &super::LaunchArgs,
    cwd: &Path,
    conf: &admin::AdminConfig,
    privileged: bool,
) -> Result<Vec<binds::Bind>> {
    let mut values = a.bind.clone();
    values.extend(binds::BIND_ENV.iter().filter_map(|v| std::env::var(v).ok()));
    binds::parse_specs(&values)?
        .iter()
        .map(|s| binds::resolve_user(s, cwd, conf.user_bind_control.as_deref(), privileged))
        .collect()
}

fn read_env_file(p: &Path) -> Result<String> {
    use std::io::Read;
    let f = File::open(p).with_context(|| format!("cannot open --env-file {}", p.display()))?;
    let mut s = String::new();
    f.take(env::MAX_ENV_FILE + 1)
        .read_to_string(&mut s)
        .with_context(|| format!("cannot read {}", p.display()))?;
    if s.len() as u64 > env::MAX_ENV_FILE {
        bail!("{} is larger than {} bytes", p.display(), env::MAX_ENV_FILE);
    }
    Ok(s)
}

/// The FUSE server, for users and for every encrypted image.
fn start_server(img: &Image, privileged: bool, debug: bool) -> Result<Option<FuseServer>> {
    let params = |offset, size, encrypted| Params {
        offset,
        size,
        encrypted,
        name: img.path.display().to_string(),
        parent: i32::try_from(std::process::id()).unwrap_or(0),
    };
    Ok(match &img.kind {
        ImageKind::Sandbox => None,
        ImageKind::Squashfs { .. } if privileged => None,
        ImageKind::Squashfs { offset, size } => Some(FuseServer::fork(
            &img.file,
            &params(*offset, *size, false),
            debug,
        )?),
        ImageKind::Encrypted { offset, size, key } => Some(FuseServer::spawn(
            &img.file,
            &params(*offset, *size, true),
            Some(key),
            debug,
        )?),
    })
}

fn write_private(p: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)?;
    f.write_all(data)
        .with_context(|| format!("cannot write {}", p.display()))
}

/// Detaches the workspace (and every mount below it) when dropped.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
    }
}
