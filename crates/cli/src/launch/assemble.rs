// SPDX-License-Identifier: Apache-2.0
//! Step 6 of a run, inside the session with the image mounted: the layout, the root
//! (skeleton and overlay when needed), the environment, the action and the OCI spec.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::plan::{self, Who};
use super::rootfs::{self, Kind, Need};
use super::run::Prepared;
use super::session::{self, Mapping};
use super::user::HostUser;
use super::{Action, LaunchArgs, env, passwd, spec};

/// Step 6 inside the session, the image mounted: layout, root, environment, spec.
pub(super) fn container_config(
    p: &Prepared,
    ws: &Path,
    action: Action,
    a: &LaunchArgs,
    args: &[String],
) -> Result<serde_json::Value> {
    let image_root = ws.join("image");
    let ids = match p.mapping {
        Mapping::Same => (p.user.uid, p.user.gid),
        _ => (0, 0),
    };
    let host_home = if p.privileged {
        PathBuf::from("/root")
    } else {
        p.user.home.clone()
    };
    let who = Who {
        ids,
        host_home: &host_home,
        tmpfs_mib: p.conf.sessiondir_max_size_mib,
    };
    let binds = p.user_binds.clone();
    let layout = plan::layout(&p.flags, &p.conf, &who, binds, &p.host_cwd, &image_root)?;
    let mut needs = layout.needs.clone();
    if p.mapping == Mapping::Same {
        needs.extend(account_needs(&image_root, &p.user, &layout.home)?);
    }
    let userns = p.mapping != Mapping::Host;
    let writable = p.flags.writable_tmpfs;
    let root = assemble_root(ws, &image_root, &needs, writable, p.privileged, userns)?;
    session::hide_workspace(ws)?;
    let host_env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let cenv = env::build(&env::EnvInput {
        host: host_env,
        cleanenv: p.flags.cleanenv,
        env_file: p.env_file.as_deref(),
        env_flags: &a.env,
        home: &layout.home,
        image: &p.img.path,
    })?;
    let (argv, envv) = process_args(action, args, &image_root, &cenv)?;
    let stdio = [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ];
    Ok(spec::build(&spec::SpecInput {
        args: &argv,
        env: &envv,
        cwd: &layout.cwd,
        user: ids,
        default_caps: ids.0 == 0,
        terminal: stdio.iter().all(rustix::termios::isatty),
        rootfs: &root,
        readonly_root: !writable,
        pid_ns: p.flags.pid,
        ipc_ns: p.flags.ipc,
        uts_ns: p.flags.uts,
        hostname: p.flags.hostname.as_deref(),
        mounts: &layout.mounts,
    }))
}

/// The image's account files with the user added.
fn account_needs(root: &Path, user: &HostUser, home: &Path) -> Result<Vec<Need>> {
    let read = |p: &str| -> Result<String> {
        let bytes = rootfs::read_in_image(root, Path::new(p), passwd::MAX_IMAGE_ACCOUNT_FILE)?;
        Ok(bytes
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default())
    };
    let shell = matches!(
        rootfs::resolve_in_image(root, Path::new(&user.shell)).map(|r| r.1),
        Ok(Some(Kind::Other))
    );
    Ok(vec![
        Need::Content(
            "/etc/passwd".into(),
            passwd::with_user(&read("/etc/passwd")?, user, home, shell).into_bytes(),
        ),
        Need::Content(
            "/etc/group".into(),
            passwd::with_group(&read("/etc/group")?, user).into_bytes(),
        ),
    ])
}

/// The root: the image itself, or the overlay of the skeleton (and a tmpfs upper layer).
fn assemble_root(
    ws: &Path,
    image: &Path,
    needs: &[Need],
    writable: bool,
    as_root: bool,
    userns: bool,
) -> Result<PathBuf> {
    let skel = ws.join("skel");
    let added = rootfs::build_skeleton(image, &skel, needs, as_root)?;
    if !added && !writable {
        return Ok(image.to_path_buf());
    }
    let (u, w) = (ws.join("upper/u"), ws.join("upper/w"));
    if writable {
        std::fs::create_dir_all(&u)?;
        std::fs::create_dir_all(&w)?;
    }
    let root = ws.join("root");
    rootfs::mount_overlay(
        &skel,
        image,
        &root,
        writable.then_some((u.as_path(), w.as_path())),
        userns,
    )?;
    Ok(root)
}

/// argv and environment: our action script under the image's `/bin/sh`, or the target
/// itself (no environment scripts) when the image has no shell.
fn process_args(
    action: Action,
    args: &[String],
    root: &Path,
    cenv: &env::ContainerEnv,
) -> Result<(Vec<String>, Vec<String>)> {
    let exists = |p: &str| {
        matches!(
            rootfs::resolve_in_image(root, Path::new(p)).map(|r| r.1),
            Ok(Some(Kind::Other))
        )
    };
    if action == Action::Exec && args.is_empty() {
        bail!("exec needs a command");
    }
    if exists("/bin/sh") {
        let mut argv = vec![
            "/bin/sh".to_string(),
            "-c".into(),
            env::action_script(action, &cenv.overrides),
        ];
        argv.push(format!("/.singularity.d/actions/{}", action.name()));
        argv.extend(args.iter().cloned());
        return Ok((argv, cenv.env.clone()));
    }
    let mut envv = cenv.env.clone();
    envv.extend(cenv.overrides.iter().map(|(k, v)| format!("{k}={v}")));
    let target = match action {
        Action::Exec => return Ok((args.to_vec(), envv)),
        Action::Run if exists("/.singularity.d/runscript") => "/.singularity.d/runscript",
        Action::Test if exists("/.singularity.d/test") => "/.singularity.d/test",
        _ => bail!("the image has no /bin/sh to {}", action.name()),
    };
    Ok((
        std::iter::once(target.to_string())
            .chain(args.iter().cloned())
            .collect(),
        envv,
    ))
}
