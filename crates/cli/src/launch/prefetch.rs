// SPDX-License-Identifier: Apache-2.0
//! Warming the image while main prepares the container: the guard child (forked right
//! after the image is mounted) asks the kernel to read the programs the container will
//! start — the action shell `/bin/sh`, the command of `exec`, and their ELF interpreter —
//! before it starts waiting on its pipe, and the small environment scripts the action shell
//! sources (packed together in squashfs fragment blocks, decompressed on first read).
//!
//! Why: a squashfs mount is new on every run, so its page cache is cold and every page
//! the container touches is decompressed afresh (the SIF file's own pages stay cached, the
//! decompressed ones die with the superblock). For a static busybox packed with gzip that
//! is ~10 ms of CPU on this host, paid by the container's first `execve` in the middle of
//! the critical path. `POSIX_FADV_WILLNEED` on squashfs decompresses synchronously in the
//! caller, so the guard does it on another CPU while main builds the skeleton, the spec
//! and the container; the container's page faults then find the pages (or wait on the
//! ones in flight). With FUSE the same call turns into early read requests to the server.
//!
//! Nothing here trusts the image: paths are resolved inside the mount (`RESOLVE_IN_ROOT`,
//! no magic links, no crossing into other mounts), only regular files are read (opened
//! non-blocking, so a FIFO cannot stall the guard), at most [`MAX_FILE_BYTES`] each, and
//! the only bytes parsed are an ELF header and its program headers, bounded. Errors are
//! ignored: prefetching is an optimisation and the container reports the real failure.

use std::num::NonZeroU64;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Advice, Mode, OFlags, ResolveFlags};

use super::Action;

/// At most this many bytes of one file are read ahead.
pub const MAX_FILE_BYTES: u64 = 32 << 20;
/// At most this many files are read ahead (shell, command, interpreters).
pub const MAX_FILES: usize = 6;
/// The environment scripts the action shell sources: at most this many, this large each.
pub const MAX_ENV_SCRIPTS: usize = 32;
/// See [`MAX_ENV_SCRIPTS`].
pub const MAX_ENV_SCRIPT_BYTES: u64 = 1 << 20;
/// Where the action shell finds them.
const ENV_DIR: &str = ".singularity.d/env";
/// The ELF program header table read to find `PT_INTERP` is at most this long.
const MAX_PHDR_BYTES: usize = 64 * 56;
/// Where `exec CMD` looks for a bare command name (Apptainer's default `PATH`).
const DEFAULT_PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The in-image paths the container is about to execute for `action` with `args`.
pub fn targets(action: Action, args: &[String]) -> Vec<PathBuf> {
    let mut t = vec![PathBuf::from("/bin/sh")];
    match (action, args.first()) {
        (Action::Exec, Some(cmd)) if cmd.starts_with('/') => t.push(PathBuf::from(cmd)),
        (Action::Exec, Some(cmd)) if !cmd.contains('/') && !cmd.is_empty() => {
            t.extend(DEFAULT_PATH.iter().map(|d| Path::new(d).join(cmd)));
        }
        (Action::Run, _) => t.push(PathBuf::from("/.singularity.d/runscript")),
        _ => {}
    }
    t
}

/// Reads ahead each existing regular file of `targets` under `root` (and the ELF
/// interpreter each one names), then the environment scripts. Never fails: see the module
/// doc.
pub fn warm(root: &Path, targets: &[PathBuf]) {
    let Ok(dir) = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    warm_programs(&dir, targets);
    warm_env_scripts(&dir);
}

fn warm_programs(dir: &OwnedFd, targets: &[PathBuf]) {
    let mut done = 0;
    let mut seen = Vec::new();
    for t in targets {
        if done >= MAX_FILES {
            break;
        }
        let Some((file, ino)) = open_regular(dir, t) else {
            continue;
        };
        if seen.contains(&ino) {
            continue;
        }
        seen.push(ino);
        let interp = elf_interpreter(&file);
        read_ahead(&file, MAX_FILE_BYTES);
        done += 1;
        if let Some((ifile, iino)) = interp.and_then(|i| open_regular(dir, &i))
            && !seen.contains(&iino)
        {
            seen.push(iino);
            read_ahead(&ifile, MAX_FILE_BYTES);
            done += 1;
        }
    }
}

/// The first [`MAX_ENV_SCRIPTS`] regular files of the image's environment directory.
fn warm_env_scripts(dir: &OwnedFd) {
    let Some(env) = open_in(dir, Path::new(ENV_DIR), OFlags::DIRECTORY) else {
        return;
    };
    let Ok(mut entries) = rustix::fs::Dir::read_from(&env) else {
        return;
    };
    let mut n = 0;
    while n < MAX_ENV_SCRIPTS {
        let Some(Ok(e)) = entries.next() else {
            return;
        };
        if e.file_type() != rustix::fs::FileType::RegularFile {
            continue;
        }
        let name = std::ffi::OsStr::from_bytes(e.file_name().to_bytes());
        if let Some((f, _)) = open_regular(dir, &Path::new(ENV_DIR).join(name)) {
            read_ahead(&f, MAX_ENV_SCRIPT_BYTES);
        }
        n += 1;
    }
}

/// `path` opened read-only inside `dir` (in-root resolution, no magic links, no other mount).
fn open_in(dir: &OwnedFd, path: &Path, extra: OFlags) -> Option<OwnedFd> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV;
    rustix::fs::openat2(
        dir.as_fd(),
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY | extra,
        Mode::empty(),
        how,
    )
    .ok()
}

/// `path` resolved inside `dir`, when it is a regular file; with its inode number.
fn open_regular(dir: &OwnedFd, path: &Path) -> Option<(std::fs::File, u64)> {
    let fd = open_in(dir, path, OFlags::empty())?;
    let st = rustix::fs::fstat(&fd).ok()?;
    (rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile)
        .then(|| (std::fs::File::from(fd), st.st_ino))
}

fn read_ahead(file: &std::fs::File, max: u64) {
    let len = file.metadata().map_or(0, |m| m.len().min(max));
    if let Some(len) = NonZeroU64::new(len) {
        let _ = rustix::fs::fadvise(file, 0, Some(len), Advice::WillNeed);
    }
}

/// The `PT_INTERP` path of a 64-bit little-endian ELF file, if any.
fn elf_interpreter(file: &std::fs::File) -> Option<PathBuf> {
    use std::os::unix::fs::FileExt;
    let mut eh = [0u8; 64];
    file.read_exact_at(&mut eh, 0).ok()?;
    if eh[..4] != *b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return None;
    }
    let phoff = u64::from_le_bytes(eh[32..40].try_into().ok()?);
    let phentsize = usize::from(u16::from_le_bytes(eh[54..56].try_into().ok()?));
    let phnum = usize::from(u16::from_le_bytes(eh[56..58].try_into().ok()?));
    let table = phentsize.checked_mul(phnum)?;
    if phentsize < 56 || table > MAX_PHDR_BYTES {
        return None;
    }
    let mut ph = vec![0u8; table];
    file.read_exact_at(&mut ph, phoff).ok()?;
    let interp = ph
        .chunks_exact(phentsize)
        .find(|p| p[..4] == 3u32.to_le_bytes())?;
    let off = u64::from_le_bytes(interp[8..16].try_into().ok()?);
    let size = u64::from_le_bytes(interp[32..40].try_into().ok()?).min(4096);
    let mut path = vec![0u8; usize::try_from(size).ok()?];
    let n = file.read_at(&mut path, off).ok()?;
    path.truncate(n);
    let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
    let p = Path::new(std::ffi::OsStr::from_bytes(&path[..end]));
    p.is_absolute().then(|| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_targets_follow_the_action() {
        let exec = targets(Action::Exec, &["true".into()]);
        assert_eq!(exec[0], Path::new("/bin/sh"));
        assert!(exec.contains(&PathBuf::from("/bin/true")));
        assert_eq!(
            targets(Action::Exec, &["/opt/x".into()]),
            [PathBuf::from("/bin/sh"), PathBuf::from("/opt/x")]
        );
        assert_eq!(targets(Action::Exec, &["a/b".into()]).len(), 1);
        assert_eq!(targets(Action::Shell, &[]).len(), 1);
    }

    #[test]
    fn test_interpreter_of_a_host_binary() {
        // the test binary itself is a dynamically linked ELF
        let me = std::fs::File::open("/proc/self/exe").unwrap();
        let interp = elf_interpreter(&me).unwrap();
        assert!(interp.to_string_lossy().contains("ld-linux"), "{interp:?}");
        let text = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(text.path(), "#!/bin/sh\n").unwrap();
        assert_eq!(elf_interpreter(text.as_file()), None);
    }

    #[test]
    fn test_warm_stays_inside_and_skips_non_files() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("bin")).unwrap();
        std::fs::write(root.path().join("bin/real"), b"data").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.path().join("bin/sh")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.path().join("fifo").as_path(),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let dir =
            rustix::fs::open(root.path(), OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        // the absolute symlink resolves inside the root, where /etc/passwd is missing
        assert!(open_regular(&dir, Path::new("/bin/sh")).is_none());
        assert!(open_regular(&dir, Path::new("/fifo")).is_none());
        assert!(open_regular(&dir, Path::new("/bin/real")).is_some());
        // a FIFO among the targets or the environment scripts must not block
        std::fs::create_dir_all(root.path().join(ENV_DIR)).unwrap();
        std::fs::write(root.path().join(ENV_DIR).join("90-environment.sh"), "x=1\n").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.path().join(ENV_DIR).join("99-fifo.sh").as_path(),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        warm(
            root.path(),
            &[PathBuf::from("/fifo"), PathBuf::from("/bin/real")],
        );
    }
}
