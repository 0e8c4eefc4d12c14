// SPDX-License-Identifier: Apache-2.0
//! PRV-01 (capability sets exactly as configured, nothing inheritable or ambient) and PRV-02
//! (no_new_privs neutralises setuid and file capabilities).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use anyhow::{Result, ensure};
use serde_json::{Value, json};
use stockade_e2e::{Bundle, host_sh, probe};
use stockade_testutil::require_root;

use crate::{check, rt, start};

/// Capabilities that must never be in a default bounding set.
const DANGEROUS: [&str; 9] = [
    "CAP_SYS_ADMIN",
    "CAP_SYS_PTRACE",
    "CAP_SYS_MODULE",
    "CAP_DAC_READ_SEARCH",
    "CAP_SYS_RAWIO",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_NET_ADMIN",
    "CAP_SYS_TIME",
];

/// Puts `/suid-probe` (setuid root) and `/fcap-probe` (file caps `caps`) into the rootfs.
fn privileged_copies(b: &Bundle, caps: &str) -> Result<()> {
    let suid = b.rootfs().join("suid-probe");
    fs::copy(b.rootfs().join("probe"), &suid)?;
    fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755))?;
    let fcap = b.rootfs().join("fcap-probe");
    fs::copy(b.rootfs().join("probe"), &fcap)?;
    let (ok, out) = host_sh(&format!("setcap {caps} '{}'", fcap.display()));
    ensure!(ok, "setcap: {out}");
    Ok(())
}

#[test]
fn prv01_default_profile_bounding_is_minimal_and_nothing_inheritable() {
    require_root!();
    check(|| {
        let rt = rt();
        let b = Bundle::from_spec(&rt, "prv01")?;
        let f = probe::run(&rt, &b)?;
        let bnd = probe::caps(&f, "CapBnd");
        let present: Vec<&str> = DANGEROUS
            .iter()
            .copied()
            .filter(|c| probe::cap_bit(c).is_some_and(|bit| bnd >> bit & 1 == 1))
            .collect();
        ensure!(
            present.is_empty(),
            "default bounding set includes {present:?}"
        );
        ensure!(
            probe::caps(&f, "CapInh") == 0 && probe::caps(&f, "CapAmb") == 0,
            "default profile: inheritable {} ambient {}",
            f["caps"]["CapInh"],
            f["caps"]["CapAmb"]
        );
        Ok(())
    });
}

#[test]
fn prv01_non_root_gets_no_capabilities_even_from_file_caps() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::from_spec(&rt, "prv01-user")?;
        privileged_copies(&b, "cap_net_raw,cap_kill+eip")?;
        b.set("/process/user", json!({ "uid": 1000, "gid": 1000 }));
        let f = as_user_facts(&rt, &mut b, "/probe")?;
        ensure!(
            probe::caps(&f, "CapEff") == 0 && probe::caps(&f, "CapPrm") == 0,
            "uid 1000 in the default profile: {}",
            f["caps"]
        );
        // The kernel may refuse to exec a file whose capabilities cannot all be granted; a
        // refusal gains nothing. If it runs, it must run without capabilities.
        b.set("/process/args", json!(["/fcap-probe", "facts"]));
        let _g = rt.guard(b.id());
        let o = rt.run(&b)?;
        if o.ok() {
            let f = probe::parse(&o)?;
            ensure!(
                probe::caps(&f, "CapEff") == 0 && probe::caps(&f, "CapPrm") == 0,
                "uid 1000 running the file-caps binary: {}",
                f["caps"]
            );
        }
        Ok(())
    });
}

#[test]
fn prv01_exec_gets_no_extra_capabilities() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("prv01-exec")?;
        b.args(&["/probe", "sleep", "600000"]);
        let _g = rt.guard(b.id());
        start(&rt, &b)?;
        let init = probe::exec(&rt, b.id(), &[], &["facts"])?;
        let want = probe::cap_mask(&stockade_e2e::bundle::TEMPLATE_CAPS);
        for set in ["CapBnd", "CapPrm", "CapEff"] {
            ensure!(
                probe::caps(&init, set) == want,
                "exec'd {set} {} (configured {want:x})",
                init["caps"][set]
            );
        }
        ensure!(
            probe::caps(&init, "CapInh") == 0 && probe::caps(&init, "CapAmb") == 0,
            "exec'd inh/amb: {}",
            init["caps"]
        );
        let extra = probe::exec(&rt, b.id(), &["--cap", "CAP_SYS_CHROOT"], &["facts"])?;
        let chroot = probe::cap_mask(&["CAP_SYS_CHROOT"]);
        ensure!(
            probe::caps(&extra, "CapEff") == want | chroot,
            "exec --cap CAP_SYS_CHROOT: CapEff {}",
            extra["caps"]["CapEff"]
        );
        ensure!(
            probe::caps(&extra, "CapInh") == 0 && probe::caps(&extra, "CapAmb") == 0,
            "exec --cap leaked into inheritable/ambient: {}",
            extra["caps"]
        );
        Ok(())
    });
}

fn as_user_facts(rt: &stockade_e2e::Runtime, b: &mut Bundle, exe: &str) -> Result<Value> {
    b.set("/process/args", json!([exe, "facts"]));
    probe::run(rt, b)
}

/// uid 1000 with CAP_KILL only in the bounding set: a `cap_kill+ep` file would raise it.
fn unprivileged_user(b: &mut Bundle, nnp: bool) {
    b.set("/process/user", json!({ "uid": 1000, "gid": 1000 }))
        .set("/process/noNewPrivileges", json!(nnp));
    b.set("/process/capabilities", json!({ "bounding": ["CAP_KILL"], "effective": [], "permitted": [], "inheritable": [], "ambient": [] }));
}

#[test]
fn prv02_no_new_privs_neutralises_setuid_and_file_caps() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("prv02")?;
        privileged_copies(&b, "cap_kill+ep")?;
        unprivileged_user(&mut b, true);
        let kill = probe::cap_mask(&["CAP_KILL"]);
        let f = as_user_facts(&rt, &mut b, "/probe")?;
        ensure!(f["no_new_privs"] == 1, "NoNewPrivs {}", f["no_new_privs"]);
        let s = as_user_facts(&rt, &mut b, "/suid-probe")?;
        ensure!(
            s["uid"][1] == 1000,
            "setuid binary raised euid to {} under NNP",
            s["uid"][1]
        );
        let c = as_user_facts(&rt, &mut b, "/fcap-probe")?;
        ensure!(
            probe::caps(&c, "CapEff") == 0 && probe::caps(&c, "CapPrm") == 0,
            "file caps granted under NNP: {}",
            c["caps"]
        );
        b.args(&["/probe", "sleep", "600000"]);
        let g = rt.guard(b.id());
        start(&rt, &b)?;
        let e = probe::exec(&rt, b.id(), &[], &["facts"])?;
        ensure!(
            e["no_new_privs"] == 1,
            "exec'd process NoNewPrivs {}",
            e["no_new_privs"]
        );
        drop(g);
        // Negative control: without NNP the same binaries do raise privileges.
        let mut n = Bundle::new("prv02-nnp-off")?;
        privileged_copies(&n, "cap_kill+ep")?;
        unprivileged_user(&mut n, false);
        let s = as_user_facts(&rt, &mut n, "/suid-probe")?;
        ensure!(
            s["uid"][1] == 0,
            "control: setuid binary without NNP kept euid {}",
            s["uid"][1]
        );
        let c = as_user_facts(&rt, &mut n, "/fcap-probe")?;
        ensure!(
            probe::caps(&c, "CapEff") & kill == kill,
            "control: file caps without NNP not granted: {}",
            c["caps"]
        );
        Ok(())
    });
}
