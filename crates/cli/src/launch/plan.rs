// SPDX-License-Identifier: Apache-2.0
//! From flags to a layout: which namespaces, which mounts in which order (kernel
//! filesystems, administrator binds, home, temporary directories, the working directory,
//! user binds), the container home and working directory, and the mount points the root
//! must provide.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::LaunchArgs;
use super::admin::AdminConfig;
use super::binds::{self, Bind};
use super::rootfs::{self, Kind, Need};
use super::spec::Mount;

/// Checked flags.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--contain`/`--containall`.
    pub contain: bool,
    /// `--cleanenv`/`--containall`.
    pub cleanenv: bool,
    /// New pid namespace.
    pub pid: bool,
    /// New ipc namespace.
    pub ipc: bool,
    /// New uts namespace.
    pub uts: bool,
    /// Its hostname.
    pub hostname: Option<String>,
    /// New, empty network namespace.
    pub net_none: bool,
    /// `--fakeroot` (not as root).
    pub fakeroot: bool,
    /// `--writable-tmpfs`.
    pub writable_tmpfs: bool,
    /// No home bind.
    pub no_home: bool,
    /// No /tmp, /var/tmp binds.
    pub no_tmp: bool,
    /// No working-directory bind.
    pub no_cwd: bool,
    /// Administrator bind paths turned off with `--no-mount`.
    pub no_paths: Vec<PathBuf>,
    /// `--home src[:dst]`.
    pub home: Option<(PathBuf, PathBuf)>,
    /// `--pwd`.
    pub pwd: Option<PathBuf>,
}

/// Checks the flags against each other and the administrator's switches.
pub fn flags(a: &LaunchArgs, conf: &AdminConfig, privileged: bool) -> Result<Flags> {
    let mut f = Flags {
        contain: a.contain || a.containall,
        cleanenv: a.cleanenv || a.containall,
        pid: a.pid || a.containall,
        ipc: a.ipc || a.containall,
        uts: a.uts || a.hostname.is_some(),
        hostname: a.hostname.clone(),
        net_none: a.net || a.network.is_some(),
        fakeroot: a.fakeroot && !privileged,
        writable_tmpfs: a.writable_tmpfs,
        no_home: a.no_home || !conf.mount_home,
        no_tmp: !conf.mount_tmp,
        pwd: a.pwd.clone(),
        ..Flags::default()
    };
    if let Some(n) = a.network.as_deref().filter(|n| *n != "none") {
        bail!("--network {n}: only \"none\" is supported");
    }
    if f.net_none && !conf.allow_net_none {
        bail!("--net is not allowed by the administrator");
    }
    if f.pid && !conf.allow_pid_ns {
        bail!("--pid is not allowed by the administrator");
    }
    if f.fakeroot && !conf.allow_fakeroot {
        bail!("--fakeroot is not allowed by the administrator");
    }
    if let Some(h) = &f.hostname
        && (h.is_empty()
            || h.len() > 64
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b)))
    {
        bail!("--hostname {h:?} is not a valid host name");
    }
    for m in &a.no_mount {
        match m.as_str() {
            "home" => f.no_home = true,
            "tmp" => f.no_tmp = true,
            "cwd" => f.no_cwd = true,
            p if p.starts_with('/') => f.no_paths.push(PathBuf::from(p)),
            other => bail!("--no-mount {other}: expected home, tmp, cwd or a bind path"),
        }
    }
    if let Some(h) = &a.home {
        let (src, dst) = h.split_once(':').unwrap_or((h.as_str(), h.as_str()));
        f.home = Some((PathBuf::from(src), binds::check_dest(Path::new(dst))?));
    }
    if let Some(p) = &f.pwd
        && !p.is_absolute()
    {
        bail!("--pwd {} is not absolute", p.display());
    }
    Ok(f)
}

/// The assembled layout.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Mounts in order.
    pub mounts: Vec<Mount>,
    /// What the root must provide.
    pub needs: Vec<Need>,
    /// `HOME` inside.
    pub home: PathBuf,
    /// Working directory inside.
    pub cwd: PathBuf,
}

/// Who runs inside: `(uid, gid)`, the host home, and the tmpfs size.
#[derive(Debug, Clone)]
pub struct Who<'a> {
    /// Container uid/gid.
    pub ids: (u32, u32),
    /// The invoking user's home on the host.
    pub host_home: &'a Path,
    /// Size of private tmpfs mounts.
    pub tmpfs_mib: u32,
}

const SYSTEM_DIRS: [&str; 14] = [
    "bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin", "sys",
    "usr", "var",
];

/// Builds the layout. `image` is the mounted image root (to check what exists).
pub fn layout(
    f: &Flags,
    conf: &AdminConfig,
    who: &Who<'_>,
    user_binds: Vec<Bind>,
    host_cwd: &Path,
    image: &Path,
) -> Result<Layout> {
    // a new network namespace needs its own sysfs (/sys/class/net is per namespace)
    let sys = if f.net_none {
        Mount::Sys
    } else {
        Mount::SysBind
    };
    let mut m = vec![
        if f.pid { Mount::Proc } else { Mount::ProcBind },
        sys,
        Mount::Dev,
        Mount::DevPts,
    ];
    let shm = |dst: &str| Mount::Tmpfs {
        dst: dst.into(),
        size_mib: who.tmpfs_mib,
        mode: 0o1777,
        owner: None,
    };
    match (
        f.ipc,
        binds::system_bind(Path::new("/dev/shm"), Path::new("/dev/shm"), false, false),
    ) {
        (false, Some(b)) => m.push(Mount::Bind(b)),
        _ => m.push(shm("/dev/shm")),
    }
    for p in conf.bind_paths.iter().filter(|p| !f.no_paths.contains(p)) {
        m.extend(binds::system_bind(p, p, true, true).map(Mount::Bind));
    }
    let (home_src, home) = match &f.home {
        Some((s, d)) => (Some(s.clone()), d.clone()),
        None => (
            Some(who.host_home.to_path_buf()),
            who.host_home.to_path_buf(),
        ),
    };
    let private = |dst: &Path, mode| Mount::Tmpfs {
        dst: dst.into(),
        size_mib: who.tmpfs_mib,
        mode,
        owner: Some(who.ids),
    };
    if f.contain && f.home.is_none() {
        m.push(private(&home, 0o700));
    } else if !f.no_home && home != Path::new("/") {
        match home_src
            .as_deref()
            .and_then(|s| binds::system_bind(s, &home, false, true))
        {
            Some(b) => m.push(Mount::Bind(b)),
            None => tracing::warn!(
                "home directory {} does not exist: not mounted",
                home.display()
            ),
        }
    }
    if f.contain {
        m.push(shm("/tmp"));
        m.push(shm("/var/tmp"));
    } else if !f.no_tmp {
        for t in ["/tmp", "/var/tmp"] {
            m.extend(binds::system_bind(Path::new(t), Path::new(t), false, true).map(Mount::Bind));
        }
    }
    let (cwd, bind_cwd) = match &f.pwd {
        Some(p) => (p.clone(), false),
        None => working_dir(f, &m, &user_binds, host_cwd, &home, who.host_home, image)?,
    };
    if bind_cwd {
        m.extend(binds::system_bind(host_cwd, host_cwd, false, true).map(Mount::Bind));
    }
    m.extend(user_binds.into_iter().map(Mount::Bind));
    let mut needs: Vec<Need> = ["/proc", "/sys", "/dev"]
        .iter()
        .map(|p| Need::Dir(p.into()))
        .collect();
    for mount in &m {
        match mount {
            Mount::Bind(b) if !b.dst.starts_with("/dev") => {
                needs.push(if b.dir {
                    Need::Dir(b.dst.clone())
                } else {
                    Need::File(b.dst.clone())
                });
            }
            Mount::Tmpfs { dst, .. } if !dst.starts_with("/dev") => {
                needs.push(Need::Dir(dst.clone()))
            }
            _ => {}
        }
    }
    // the working directory and home exist in the image unless a mount provides them
    for dir in [&cwd, &home] {
        if !under_mount(&m, dir) {
            needs.push(Need::Dir(dir.clone()));
        }
    }
    Ok(Layout {
        mounts: m,
        needs,
        home,
        cwd,
    })
}

/// Whether container path `p` lies on or below a mount destination (other than `/proc`,
/// `/sys`, `/dev`).
fn under_mount(m: &[Mount], p: &Path) -> bool {
    m.iter().any(|x| match x {
        Mount::Bind(b) => b.dir && p.starts_with(&b.dst),
        Mount::Tmpfs { dst, .. } => p.starts_with(dst),
        _ => false,
    })
}

/// The container path of host path `p` through the binds so far (last bind wins).
fn mapped(m: &[Mount], user: &[Bind], p: &Path) -> Option<PathBuf> {
    let binds = m.iter().filter_map(|x| {
        if let Mount::Bind(b) = x {
            Some(b)
        } else {
            None
        }
    });
    binds
        .chain(user)
        .rfind(|b| b.dir && p.starts_with(&b.src))
        .map(|b| b.dst.join(p.strip_prefix(&b.src).unwrap_or(Path::new(""))))
}

fn working_dir(
    f: &Flags,
    m: &[Mount],
    user: &[Bind],
    host_cwd: &Path,
    home: &Path,
    host_home: &Path,
    image: &Path,
) -> Result<(PathBuf, bool)> {
    if f.contain {
        return Ok((home.to_path_buf(), false));
    }
    if let Some(p) = mapped(m, user, host_cwd) {
        return Ok((p, false));
    }
    let first = host_cwd
        .components()
        .nth(1)
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let system = first.as_deref().is_none_or(|c| SYSTEM_DIRS.contains(&c));
    // --no-home must not let the home in through the working directory
    let in_home = f.no_home && host_cwd.starts_with(host_home);
    if f.no_cwd || system || in_home {
        let exists = matches!(
            rootfs::resolve_in_image(image, host_cwd)?.1,
            Some(Kind::Dir)
        );
        return Ok((
            if exists {
                host_cwd.to_path_buf()
            } else {
                home.to_path_buf()
            },
            false,
        ));
    }
    Ok((host_cwd.to_path_buf(), true))
}
