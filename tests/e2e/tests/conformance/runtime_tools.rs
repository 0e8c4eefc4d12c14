// SPDX-License-Identifier: Apache-2.0
//! The configuration every opencontainers/runtime-tools validation program starts from
//! (`generate.New("linux")` + `util.GetDefaultGenerator`): its seccomp profile (three ABIs,
//! a `personality` rule with three conditions, a masked `clone` rule), all five capability
//! sets equal (inheritable and ambient included), `noNewPrivileges` unset. `runtimetest`
//! then checks what this case checks with the probe; a runtime that cannot run this config
//! fails nearly the whole external suite.

use anyhow::{Result, ensure};
use serde_json::{Value, json};
use stockade_e2e::harness::{Case, case};

use crate::{mount_of, probe_with};

pub const CASES: &[Case] = &[case(
    "config.md#process",
    "FIELD",
    "runtime-tools' default generator config runs as runtimetest expects",
    &[
        "hostname",
        "process",
        "process_capabilities",
        "process_rlimits",
        "mounts",
    ],
    generator_default,
)];

/// runtime-tools `generate/seccomp/seccomp_default.go`, unconditional part.
const ALLOWED: &str = "
accept accept4 access alarm bind brk capget capset chdir chmod chown chown32
clock_getres clock_gettime clock_nanosleep close connect copy_file_range creat dup dup2
dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat fadvise64
fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat
fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futimesat getcpu
getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom
getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy
io_getevents ioprio_get ioprio_set io_setup io_submit ipc kill lchown lchown32 lgetxattr
link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat
lstat64 madvise memfd_create mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedsend
mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap nanosleep
newfstatat _newselect open openat pause pipe pipe2 poll ppoll prctl pread64 preadv
prlimit64 pselect6 pwrite64 pwritev read readahead readlink readlinkat readv recv
recvfrom recvmmsg recvmsg remap_file_pages removexattr rename renameat renameat2
restart_syscall rmdir rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo sched_getaffinity
sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop send
sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32
setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32
setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigreturn
socket socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat
sync sync_file_range syncfs sysinfo syslog tee tgkill time timer_create timer_delete
timerfd_create timerfd_gettime timerfd_settime timer_getoverrun timer_gettime
timer_settime times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
utime utimensat utimes vfork vmsplice wait4 waitid waitpid write writev";

const CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The generator's seccomp profile for x86_64 (without CAP_SYS_ADMIN).
fn profile() -> Value {
    let ns = 0x0002_0000u64 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;
    let allow = |names: &[&str]| json!({ "names": names, "action": "SCMP_ACT_ALLOW" });
    let all: Vec<&str> = ALLOWED.split_whitespace().collect();
    let eq = |v: u64| json!({ "index": 0, "value": v, "op": "SCMP_CMP_EQ" });
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            allow(&all),
            { "names": ["personality"], "action": "SCMP_ACT_ALLOW",
              "args": [eq(0), eq(8), eq(0xffff_ffff)] },
            allow(&["chroot"]),
            { "names": ["clone"], "action": "SCMP_ACT_ALLOW",
              "args": [{ "index": 0, "value": ns, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }] },
            allow(&["arch_prctl"]),
            allow(&["modify_ldt"]),
        ],
    })
}

fn generator_default() -> Result<()> {
    if std::env::consts::ARCH != "x86_64" {
        stockade_e2e::skip!("the profile written here is runtime-tools' x86_64 one");
    }
    let f = probe_with(&["facts"], |b| {
        b.set("/hostname", json!("mrsdalloway"))
            .set(
                "/process/capabilities",
                json!({
                    "bounding": CAPS, "permitted": CAPS, "inheritable": CAPS,
                    "effective": CAPS, "ambient": CAPS,
                }),
            )
            .remove("/process/noNewPrivileges")
            .remove("/linux/maskedPaths")
            .remove("/linux/readonlyPaths")
            .set("/linux/seccomp", profile());
    })?;
    let want = stockade_e2e::probe::cap_mask(&CAPS);
    for set in ["CapBnd", "CapPrm", "CapInh", "CapEff", "CapAmb"] {
        let got = stockade_e2e::probe::caps(&f, set);
        ensure!(got == want, "{set} {got:#x}, want {want:#x}");
    }
    ensure!(f["no_new_privs"] == 0, "no_new_privs {}", f["no_new_privs"]);
    ensure!(f["seccomp"] == 2, "seccomp mode {}", f["seccomp"]);
    ensure!(f["hostname"] == "mrsdalloway", "hostname {}", f["hostname"]);
    ensure!(
        f["rlimits"]["RLIMIT_NOFILE"] == json!([1024, 1024]),
        "RLIMIT_NOFILE {}",
        f["rlimits"]["RLIMIT_NOFILE"]
    );
    // runtimetest's validatePosixMounts: type and source as configured, in config order
    let mut last = 0;
    for (dest, ty, src) in [
        ("/proc", "proc", "proc"),
        ("/dev", "tmpfs", "tmpfs"),
        ("/dev/pts", "devpts", "devpts"),
        ("/dev/shm", "tmpfs", "shm"),
        ("/dev/mqueue", "mqueue", "mqueue"),
        ("/sys", "sysfs", "sysfs"),
    ] {
        let lines: Vec<&str> = f["mountinfo"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let at = lines
            .iter()
            .position(|l| l.split(' ').nth(4) == Some(dest))
            .unwrap_or(usize::MAX);
        let m = mount_of(&f, dest).unwrap_or_default();
        let dash = m.iter().position(|x| *x == "-").unwrap_or(m.len());
        ensure!(
            m.get(dash + 1) == Some(&ty) && m.get(dash + 2) == Some(&src),
            "{dest}: {m:?} (want type {ty}, source {src})"
        );
        ensure!(
            at != usize::MAX && at >= last,
            "{dest} is mounted out of config order"
        );
        last = at;
    }
    Ok(())
}
