// SPDX-License-Identifier: Apache-2.0
//! Families the default profile denies explicitly, each with the reason it is denied.
//!
//! The default action already refuses them (EPERM); listing them keeps the reason next to the
//! name, and keeps them refused if someone turns the default action into ALLOW or LOG. None of
//! these names may appear in the allow lists (a unit test checks it).

/// One denied family: the syscalls and why.
#[derive(Debug, Clone, Copy)]
pub(super) struct Denied {
    pub names: &'static [&'static str],
    pub reason: &'static str,
}

pub(super) const DENIED: &[Denied] = &[
    Denied {
        names: &["unshare", "setns"],
        reason: "new namespaces, above all user namespaces, expose code written for root: \
                 CVE-2022-0185 (fsconfig overflow), CVE-2022-0492 (cgroup v1 release_agent \
                 escape), CVE-2024-1086 (nf_tables). clone with CLONE_NEW* is refused by the \
                 clone rule; clone3 gets ENOSYS because its flags sit behind a pointer",
    },
    Denied {
        names: &["io_uring_setup", "io_uring_enter", "io_uring_register"],
        reason: "io_uring bypasses per-syscall filtering and has a long exploit record: \
                 CVE-2021-41073, CVE-2022-29582, CVE-2023-2598",
    },
    Denied {
        names: &["bpf"],
        reason: "eBPF verifier bugs give kernel read/write: CVE-2020-8835, CVE-2021-3490, \
                 CVE-2021-31440",
    },
    Denied {
        names: &["userfaultfd"],
        reason: "pauses the kernel inside copy_from_user, the standard tool to win kernel \
                 races in exploits (why vm.unprivileged_userfaultfd defaults to 0)",
    },
    Denied {
        names: &["keyctl", "add_key", "request_key"],
        reason: "keyrings are not namespaced (keys leak between containers); CVE-2016-0728 \
                 (keyring refcount overflow to root)",
    },
    Denied {
        names: &["perf_event_open"],
        reason: "host-wide profiling data and a large attack surface: CVE-2013-2094, \
                 CVE-2023-6931",
    },
    Denied {
        names: &["kexec_load", "kexec_file_load"],
        reason: "replaces the running host kernel",
    },
    Denied {
        names: &[
            "init_module",
            "finit_module",
            "delete_module",
            "create_module",
            "query_module",
            "get_kernel_syms",
        ],
        reason: "loads or unloads code in the host kernel",
    },
    Denied {
        names: &["open_by_handle_at", "name_to_handle_at"],
        reason: "opens files by handle, outside the container's root: the 2014 'shocker' \
                 escape from Docker",
    },
    Denied {
        names: &[
            "mount",
            "umount",
            "umount2",
            "pivot_root",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "move_mount",
            "open_tree",
            "mount_setattr",
        ],
        reason: "mounts can uncover masked /proc and /sys entries or remount read-only paths; \
                 CVE-2022-0185 (fsconfig), CVE-2022-0492 (a fresh cgroup v1 mount)",
    },
    Denied {
        names: &[
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
        ],
        reason: "reading and steering other processes; ptrace bypassed seccomp before Linux \
                 4.8 and CVE-2019-13272 (PTRACE_TRACEME) gave root",
    },
    Denied {
        names: &[
            "reboot",
            "swapon",
            "swapoff",
            "acct",
            "quotactl",
            "quotactl_fd",
            "syslog",
            "settimeofday",
            "stime",
            "clock_settime",
            "clock_settime64",
            "sethostname",
            "setdomainname",
            "vhangup",
            "lookup_dcookie",
            "fanotify_init",
        ],
        reason: "host-global state: power, swap, accounting, quotas, the kernel log (leaks \
                 addresses that defeat KASLR), the clock; names the runtime sets itself",
    },
    Denied {
        names: &[
            "iopl",
            "ioperm",
            "modify_ldt",
            "vm86",
            "vm86old",
            "uselib",
            "_sysctl",
            "nfsservctl",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
            "get_mempolicy",
            "migrate_pages",
            "move_pages",
            "memfd_secret",
        ],
        reason: "raw I/O ports, 16-bit segments, obsolete interfaces and NUMA placement of \
                 host memory: rarely needed, repeatedly buggy",
    },
];
