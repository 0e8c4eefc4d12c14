// SPDX-License-Identifier: Apache-2.0
//! Process environment: pid namespace, hostname, read-only root, masks, capabilities,
//! NoNewPrivs, seccomp, rlimits.

use anyhow::ensure;
use serde_json::json;
use stockade_e2e::bundle::{MASKED, READONLY, TEMPLATE_CAPS};
use stockade_e2e::{Bundle, probe};
use stockade_testutil::require_root;

use crate::{check, rt};

#[test]
fn pid1_in_new_pid_namespace_with_hostname() {
    require_root!();
    check(|| {
        let rt = rt();
        let b = Bundle::new("pid1")?;
        let f = probe::run(&rt, &b)?;
        ensure!(f["pid"] == 1, "container process is pid {} not 1", f["pid"]);
        let host_pidns = std::fs::read_link("/proc/self/ns/pid")?;
        ensure!(
            f["ns"]["pid"] != json!(host_pidns.to_string_lossy()),
            "pid namespace is the host's"
        );
        ensure!(
            f["hostname"] == "stockade-e2e",
            "hostname {}",
            f["hostname"]
        );
        Ok(())
    });
}

#[test]
fn readonly_root_refuses_writes() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("roroot")?;
        b.set("/root/readonly", json!(true));
        let v = probe::run_args(&rt, &mut b, &["fill", "/newfile", "0"])?;
        ensure!(
            v["stopped_by"] == "EROFS",
            "creating /newfile on a read-only root: {v}"
        );
        ensure!(
            !b.rootfs().join("newfile").exists(),
            "file appeared in the rootfs"
        );
        Ok(())
    });
}

#[test]
fn masked_paths_read_empty_and_readonly_paths_refuse_writes() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("masks")?;
        let mut args = vec!["paths"];
        args.extend(MASKED.iter().chain(READONLY.iter()));
        let v = probe::run_args(&rt, &mut b, &args)?;
        for p in MASKED {
            let i = &v[p];
            if i["exists"] == false {
                continue;
            }
            let empty = i["read"]["bytes"] == 0 || i["list"]["entries"] == 0;
            ensure!(empty, "masked {p} is readable: {i}");
        }
        for p in READONLY {
            let i = &v[p];
            if i["exists"] == false || i["kind"] == "dir" {
                continue;
            }
            ensure!(
                i["write_open"]["ok"].is_null(),
                "read-only {p} opens for writing: {i}"
            );
        }
        let w = probe::run_args(&rt, &mut b, &["write", "/proc/sys/kernel/hostname", "x"])?;
        ensure!(w["open"]["error"] == "EROFS", "/proc/sys write: {w}");
        Ok(())
    });
}

#[test]
fn capability_sets_exactly_as_configured() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("caps")?;
        let f = probe::run(&rt, &b)?;
        let want = probe::cap_mask(&TEMPLATE_CAPS);
        for set in ["CapBnd", "CapPrm", "CapEff"] {
            ensure!(
                probe::caps(&f, set) == want,
                "{set} {:x} != configured {want:x}",
                probe::caps(&f, set)
            );
        }
        ensure!(
            probe::caps(&f, "CapInh") == 0 && probe::caps(&f, "CapAmb") == 0,
            "inh/amb not empty: {}",
            f["caps"]
        );
        // A non-root user with an ambient set keeps exactly it.
        b.set("/process/user", json!({ "uid": 1000, "gid": 1000 }));
        b.set("/process/capabilities/inheritable", json!(["CAP_KILL"]));
        b.set("/process/capabilities/ambient", json!(["CAP_KILL"]));
        let f = probe::run(&rt, &b)?;
        let kill = probe::cap_mask(&["CAP_KILL"]);
        ensure!(
            probe::caps(&f, "CapAmb") == kill && probe::caps(&f, "CapEff") == kill,
            "uid 1000 caps {}",
            f["caps"]
        );
        Ok(())
    });
}

#[test]
fn no_new_privileges_follows_config() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("nnp")?;
        ensure!(
            probe::run(&rt, &b)?["no_new_privs"] == 1,
            "noNewPrivileges true not applied"
        );
        b.set("/process/noNewPrivileges", json!(false));
        ensure!(
            probe::run(&rt, &b)?["no_new_privs"] == 0,
            "noNewPrivileges false not honoured"
        );
        Ok(())
    });
}

#[test]
fn seccomp_filter_mode_and_errno_rule_bites() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("seccomp")?;
        b.set(
            "/linux/seccomp",
            json!({ "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                    "syscalls": [{ "names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42 }] }),
        );
        let f = probe::run(&rt, &b)?;
        ensure!(f["seccomp"] == 2, "Seccomp mode {} (want 2)", f["seccomp"]);
        let v = probe::run_args(&rt, &mut b, &["try", "getcwd"])?;
        ensure!(v["errno"] == 42, "getcwd under an ERRNO(42) rule: {v}");
        Ok(())
    });
}

#[test]
fn rlimits_applied() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("rlimits")?;
        b.set(
            "/process/rlimits",
            json!([{ "type": "RLIMIT_NOFILE", "soft": 256, "hard": 512 },
                   { "type": "RLIMIT_CORE", "soft": 0, "hard": 0 },
                   { "type": "RLIMIT_NPROC", "soft": 777, "hard": 888 }]),
        );
        let f = probe::run(&rt, &b)?;
        for (k, s, h) in [
            ("RLIMIT_NOFILE", 256, 512),
            ("RLIMIT_CORE", 0, 0),
            ("RLIMIT_NPROC", 777, 888),
        ] {
            ensure!(
                f["rlimits"][k] == json!([s, h]),
                "{k} = {} (want [{s},{h}])",
                f["rlimits"][k]
            );
        }
        Ok(())
    });
}
