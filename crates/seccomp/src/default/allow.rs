// SPDX-License-Identifier: Apache-2.0
//! Syscalls the default profile allows without conditions, grouped by purpose.
//!
//! The list is what a Debian or busybox userland, language runtimes (glibc, musl, Go, JVM,
//! Python) and ordinary servers use. 32-bit variants (`*32`, `*64` on i386/arm, `*_time64`)
//! are listed so a profile that adds compat ABIs to `architectures` works for them too (the
//! default filters the native ABI only); libseccomp applies each name where it exists.
//! Everything else falls to the default action (EPERM), or to ENOSYS when newer than every
//! name here (see `enosys.rs`).

/// Files, directories and their metadata.
#[rustfmt::skip]
const FILES: &[&str] = &[
    "access", "chdir", "chmod", "chown", "chown32", "chroot", "close", "close_range",
    "copy_file_range", "creat", "dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64",
    "fadvise64_64", "fallocate", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32",
    "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock",
    "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
    "ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64", "getxattr",
    "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "lchown", "lchown32", "lgetxattr", "link", "linkat", "listxattr", "listxattrat", "llistxattr",
    "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "mkdir", "mkdirat",
    "mknod", "mknodat", "newfstatat", "open", "openat", "openat2", "pread64", "preadv", "preadv2",
    "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
    "removexattr", "removexattrat", "rename", "renameat", "renameat2", "rmdir", "sendfile",
    "sendfile64", "setxattr", "setxattrat", "splice", "stat", "stat64", "statfs", "statfs64",
    "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "tee", "truncate",
    "truncate64", "umask", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64",
    "utimes", "vmsplice", "write", "writev", "cachestat",
];

/// Memory management.
#[rustfmt::skip]
const MEMORY: &[&str] = &[
    "brk", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "mincore", "mlock",
    "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mremap", "mseal", "msync", "munlock",
    "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages",
];

/// Processes, threads, credentials, scheduling, limits. (`clone` and `personality` are
/// allowed with conditions, see `mod.rs`.)
#[rustfmt::skip]
const PROCESSES: &[&str] = &[
    "arch_prctl", "capget", "capset", "execve", "execveat", "exit", "exit_group", "fork",
    "get_robust_list", "get_thread_area", "getcpu", "getegid", "getegid32", "geteuid", "geteuid32",
    "getgid", "getgid32", "getgroups", "getgroups32", "getpgid", "getpgrp", "getpid", "getppid",
    "getpriority", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "getrusage", "getsid", "gettid", "getuid", "getuid32", "ioprio_get", "ioprio_set",
    "pidfd_open", "pidfd_send_signal", "prctl", "prlimit64", "process_mrelease", "rseq",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield", "seccomp", "set_robust_list", "set_thread_area",
    "set_tid_address", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setpgid", "setpriority", "setregid", "setregid32", "setresgid",
    "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid",
    "setuid", "setuid32", "ugetrlimit", "uname", "vfork", "wait4", "waitid", "waitpid",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
];

/// Signals, timers, clocks (reading; setting the clock needs CAP_SYS_TIME and is denied).
#[rustfmt::skip]
const SIGNALS_AND_TIME: &[&str] = &[
    "adjtimex", "alarm", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
    "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "getitimer",
    "gettimeofday", "kill", "nanosleep", "pause", "restart_syscall", "rt_sigaction",
    "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "setitimer", "sigaltstack",
    "signalfd", "signalfd4", "sigprocmask", "sigreturn", "sysinfo", "tgkill", "time",
    "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill",
];

/// Waiting and events: poll/select/epoll, eventfd, futexes, pipes, legacy AIO.
#[rustfmt::skip]
const EVENTS: &[&str] = &[
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2",
    "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "futex", "futex_requeue",
    "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "io_cancel", "io_destroy",
    "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit", "_newselect",
    "pipe", "pipe2", "poll", "ppoll", "ppoll_time64", "pselect6", "pselect6_time64", "select",
];

/// Sockets (`socket` itself is allowed with a condition, see `mod.rs`) and System V / POSIX
/// IPC (isolated by the IPC namespace).
#[rustfmt::skip]
const NETWORK_AND_IPC: &[&str] = &[
    "accept", "accept4", "bind", "connect", "getpeername", "getrandom", "getsockname",
    "getsockopt", "listen", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "send",
    "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socketcall", "socketpair", "ipc",
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
    "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "msgctl", "msgget", "msgrcv", "msgsnd",
    "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "shmat", "shmctl", "shmdt",
    "shmget",
];

/// Architecture-specific helpers of the ABIs we filter (arm/aarch64).
#[rustfmt::skip]
const ARCH_SPECIFIC: &[&str] = &[
    "arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls",
    "sync_file_range2",
];

/// Every unconditionally allowed name.
pub(super) fn allowed() -> impl Iterator<Item = &'static str> {
    [
        FILES,
        MEMORY,
        PROCESSES,
        SIGNALS_AND_TIME,
        EVENTS,
        NETWORK_AND_IPC,
        ARCH_SPECIFIC,
    ]
    .into_iter()
    .flatten()
    .copied()
}
