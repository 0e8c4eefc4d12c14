// SPDX-License-Identifier: Apache-2.0
//! The working directory and the program, resolved inside the container root after
//! pivot_root with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: a cwd or argv[0]
//! through `/proc/self/fd/N` (CVE-2024-21626) or a symlink out of the root cannot escape,
//! and after `fchdir` the kernel's own `getcwd` must name a path inside the root.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};

use super::error::{InitError, InitResult, IoStep, Step};

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

fn open_root() -> InitResult<OwnedFd> {
    rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .step(Step::Cwd, "/")
}

fn open_in(root: BorrowedFd<'_>, path: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat2(root, path, flags | OFlags::CLOEXEC, Mode::empty(), RESOLVE)
}

/// Creates `cwd` (and its parents) inside the root when missing, as runc does.
pub fn ensure_cwd(cwd: &Path) -> InitResult<()> {
    let root = open_root()?;
    let mut prefix = PathBuf::from("/");
    for comp in cwd.components() {
        let Component::Normal(name) = comp else {
            continue;
        };
        let parent = open_in(root.as_fd(), &prefix, OFlags::PATH | OFlags::DIRECTORY)
            .step(Step::Cwd, &prefix.display().to_string())?;
        prefix.push(name);
        match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => {
                return Err(InitError::io(
                    Step::Cwd,
                    cwd.display().to_string(),
                    &e.into(),
                ));
            }
        }
    }
    Ok(())
}

/// Enters `cwd` and checks the kernel agrees it is inside the root.
pub fn enter_cwd(cwd: &Path) -> InitResult<()> {
    let what = cwd.display().to_string();
    let root = open_root()?;
    let dir =
        open_in(root.as_fd(), cwd, OFlags::PATH | OFlags::DIRECTORY).step(Step::Cwd, &what)?;
    rustix::process::fchdir(&dir).step(Step::Cwd, &what)?;
    let now = rustix::process::getcwd(Vec::new()).step(Step::Cwd, &what)?;
    if !now.to_bytes().starts_with(b"/") {
        return Err(InitError::new(
            Step::Cwd,
            format!("{what} is outside the container root"),
        ));
    }
    Ok(())
}

/// Finds the program: argv[0] if it has a `/`, else the first match on the `PATH` of the
/// process environment. Returns the absolute in-container path to `execve`. Failures are
/// worded as runc's (Go's `exec.LookPath`), which engines match to pick an exit code:
/// `exec: "/x": stat /x: no such file or directory`, `exec: "/x": permission denied`,
/// `exec: "x": executable file not found in $PATH` (podman and docker: 127 and 126).
pub fn find_executable(arg0: &str, env: &[String]) -> InitResult<CString> {
    let root = open_root()?;
    let to_cstring = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| InitError::new(Step::Executable, format!("{arg0}: NUL in path")))
    };
    if arg0.contains('/') {
        let abs = Path::new("/").join(arg0);
        return match check_executable(root.as_fd(), &abs) {
            Ok(()) => to_cstring(Path::new(arg0)),
            Err(NotRunnable::Missing(e)) => Err(InitError {
                step: Step::Executable,
                context: format!("exec: {arg0:?}: stat {arg0}"),
                errno: Some(e.raw_os_error()),
            }),
            Err(NotRunnable::NotExecutable) => Err(InitError::new(
                Step::Executable,
                format!("exec: {arg0:?}: permission denied"),
            )),
            Err(NotRunnable::MagicLink) => Err(InitError::new(
                Step::Executable,
                format!("exec: {arg0:?}: resolves through a magic link"),
            )),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let c = Path::new(dir).join(arg0);
        if check_executable(root.as_fd(), &Path::new("/").join(&c)).is_ok() {
            return to_cstring(&c);
        }
    }
    Err(InitError::new(
        Step::Executable,
        format!("exec: {arg0:?}: executable file not found in $PATH"),
    ))
}

/// Why a candidate cannot be run.
enum NotRunnable {
    /// The lookup failed (`ENOENT`, `ENOTDIR`, `EACCES` on a directory...).
    Missing(rustix::io::Errno),
    /// Not a regular file with an execute bit.
    NotExecutable,
    /// The path goes through `/proc/<pid>/fd`-style magic links (refused).
    MagicLink,
}

fn check_executable(root: BorrowedFd<'_>, path: &Path) -> Result<(), NotRunnable> {
    let fd = open_in(root, path, OFlags::PATH).map_err(|e| {
        if e == rustix::io::Errno::LOOP {
            NotRunnable::MagicLink
        } else {
            NotRunnable::Missing(e)
        }
    })?;
    let st = rustix::fs::fstat(&fd).map_err(NotRunnable::Missing)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || st.st_mode & 0o111 == 0 {
        return Err(NotRunnable::NotExecutable);
    }
    Ok(())
}
