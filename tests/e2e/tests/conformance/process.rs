// SPDX-License-Identifier: Apache-2.0
//! config.md: process, rlimits, capabilities, no_new_privs, oom_score_adj, I/O priority and user.

use std::time::Duration;

use anyhow::{Result, ensure};
use serde_json::json;
use stockade_e2e::bundle::TEMPLATE_CAPS;
use stockade_e2e::harness::{Case, case};
use stockade_e2e::{Bundle, Opts, probe};

use crate::{create_fails, probe_with, rt};

pub const CASES: &[Case] = &[
    case(
        "config.md#process",
        "MUST",
        "consoleSize is ignored when terminal is false",
        &[],
        console_size_ignored,
    ),
    case(
        "config.md#process",
        "MUST",
        "a relative cwd is refused",
        &[],
        cwd_relative,
    ),
    case(
        "config.md#process",
        "FIELD",
        "cwd, env and args are applied",
        &["process"],
        cwd_env_args,
    ),
    case(
        "config.md#process",
        "MUST",
        "empty args are refused",
        &[],
        args_empty,
    ),
    case(
        "config.md#posix-process",
        "MUST",
        "rlimits soft and hard values match",
        &["process_rlimits"],
        rlimits_match,
    ),
    case(
        "config.md#posix-process",
        "MUST",
        "an rlimit type unknown to the kernel is refused",
        &["process_rlimits_fail"],
        rlimit_unknown,
    ),
    case(
        "config.md#posix-process",
        "MUST",
        "duplicated rlimit types are refused",
        &[],
        rlimit_duplicate,
    ),
    case(
        "config.md#linux-process",
        "FIELD",
        "capability sets are applied exactly",
        &["process_capabilities"],
        caps_exact,
    ),
    case(
        "config.md#linux-process",
        "MUST",
        "an unmappable capability is logged as a warning naming it",
        &["process_capabilities_fail"],
        caps_unknown_warned,
    ),
    case(
        "config.md#linux-process",
        "SHOULD NOT",
        "an unmappable capability does not fail the container",
        &[],
        caps_unknown_not_fatal,
    ),
    case(
        "config.md#linux-process",
        "FIELD",
        "noNewPrivileges true and false are applied",
        &["process"],
        no_new_privs,
    ),
    case(
        "config.md#linux-process",
        "MUST",
        "oomScoreAdj, when set, is written",
        &["process_oom_score_adj"],
        oom_set,
    ),
    case(
        "config.md#linux-process",
        "MUST NOT",
        "oom_score_adj is unchanged when oomScoreAdj is not set",
        &["process_oom_score_adj"],
        oom_unset,
    ),
    case(
        "config.md#linux-process",
        "FIELD",
        "ioPriority is applied",
        &[],
        io_priority,
    ),
    case(
        "config.md#user",
        "FIELD",
        "uid, gid and additionalGids are applied",
        &["process_user"],
        user_ids,
    ),
    case(
        "config.md#user",
        "FIELD",
        "umask is applied",
        &[],
        user_umask,
    ),
];

fn console_size_ignored() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.set("/process/consoleSize", json!({ "height": 25, "width": 80 }));
    })?;
    ensure!(
        f["tty"] == json!([false, false, false]),
        "stdio became a terminal: {}",
        f["tty"]
    );
    Ok(())
}

fn cwd_relative() -> Result<()> {
    let mut b = Bundle::new("cwdrel")?;
    b.set("/process/cwd", json!("tmp"));
    create_fails(&rt()?, &b)
}

fn cwd_env_args() -> Result<()> {
    let f = probe_with(&["facts", "extra arg"], |b| {
        b.set("/process/cwd", json!("/tmp"))
            .set("/process/env", json!(["PATH=/bin", "E2E_VAR=a=b c"]));
    })?;
    ensure!(f["cwd"] == "/tmp", "cwd {}", f["cwd"]);
    ensure!(
        f["env"]["E2E_VAR"] == "a=b c" && f["env"]["PATH"] == "/bin",
        "env {}",
        f["env"]
    );
    ensure!(
        f["args"] == json!(["/probe", "facts", "extra arg"]),
        "args {}",
        f["args"]
    );
    Ok(())
}

fn args_empty() -> Result<()> {
    let mut b = Bundle::new("argsempty")?;
    b.set("/process/args", json!([]));
    let rt = rt()?;
    let _g = rt.guard(b.id());
    let c = rt.create(&b)?;
    ensure!(
        !c.ok() || !rt.cmd(&["start", b.id()])?.ok(),
        "a container with empty args was created and started"
    );
    Ok(())
}

fn rlimits_match() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.set("/process/rlimits", json!([{ "type": "RLIMIT_NOFILE", "soft": 1000, "hard": 1001 }, { "type": "RLIMIT_MEMLOCK", "soft": 65536, "hard": 131072 }]));
    })?;
    ensure!(
        f["rlimits"]["RLIMIT_NOFILE"] == json!([1000, 1001]),
        "NOFILE {}",
        f["rlimits"]["RLIMIT_NOFILE"]
    );
    ensure!(
        f["rlimits"]["RLIMIT_MEMLOCK"] == json!([65536, 131072]),
        "MEMLOCK {}",
        f["rlimits"]["RLIMIT_MEMLOCK"]
    );
    Ok(())
}

fn rlimit_unknown() -> Result<()> {
    let mut b = Bundle::new("rlimitbad")?;
    b.set(
        "/process/rlimits",
        json!([{ "type": "RLIMIT_TEST", "soft": 1024, "hard": 1024 }]),
    );
    create_fails(&rt()?, &b)
}

fn rlimit_duplicate() -> Result<()> {
    let mut b = Bundle::new("rlimitdup")?;
    b.set("/process/rlimits", json!([{ "type": "RLIMIT_NOFILE", "soft": 512, "hard": 512 }, { "type": "RLIMIT_NOFILE", "soft": 256, "hard": 256 }]));
    create_fails(&rt()?, &b)
}

fn caps_exact() -> Result<()> {
    // Sets the kernel keeps across execve: for root, effective = permitted; for a non-root user
    // without file capabilities, permitted = effective = ambient.
    let caps = ["CAP_CHOWN", "CAP_SETUID", "CAP_NET_RAW"];
    let (all, setuid) = (probe::cap_mask(&caps), probe::cap_mask(&["CAP_SETUID"]));
    let root = json!({ "bounding": caps, "effective": caps, "permitted": caps, "inheritable": ["CAP_SETUID"], "ambient": [] });
    let user = json!({ "bounding": caps, "effective": ["CAP_SETUID"], "permitted": ["CAP_SETUID"], "inheritable": ["CAP_SETUID"], "ambient": ["CAP_SETUID"] });
    for (uid, c, want) in [
        (0, root, [all, all, all, setuid, 0]),
        (1000, user, [all, setuid, setuid, setuid, setuid]),
    ] {
        let f = probe_with(&["facts"], |b| {
            b.set("/process/capabilities", c)
                .set("/process/user", json!({ "uid": uid, "gid": uid }));
        })?;
        for (set, w) in ["CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"]
            .iter()
            .zip(want)
        {
            ensure!(
                probe::caps(&f, set) == w,
                "uid {uid}: {set} = {:x}, configured {w:x}",
                probe::caps(&f, set)
            );
        }
    }
    Ok(())
}

fn bogus_cap_bundle() -> Result<Bundle> {
    let mut b = Bundle::new("capbogus")?;
    let mut caps: Vec<&str> = TEMPLATE_CAPS.to_vec();
    caps.push("CAP_E2E_BOGUS");
    b.set(
        "/process/capabilities",
        json!({ "bounding": caps, "effective": caps, "permitted": caps }),
    );
    Ok(b)
}

fn caps_unknown_warned() -> Result<()> {
    let rt = rt()?;
    let b = bogus_cap_bundle()?;
    let log = rt.work().join("log.json");
    b.write()?;
    let _g = rt.guard(b.id());
    let o = rt.cmd(&[
        "--log",
        &log.to_string_lossy(),
        "run",
        "--bundle",
        &b.path_str(),
        b.id(),
    ])?;
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    ensure!(
        o.stderr.contains("CAP_E2E_BOGUS") || logged.contains("CAP_E2E_BOGUS"),
        "nothing names CAP_E2E_BOGUS (stderr {:?})",
        o.stderr
    );
    Ok(())
}

fn caps_unknown_not_fatal() -> Result<()> {
    let rt = rt()?;
    let b = bogus_cap_bundle()?;
    let f = probe::run(&rt, &b)?;
    ensure!(
        probe::caps(&f, "CapEff") == probe::cap_mask(&TEMPLATE_CAPS),
        "known caps not applied: {}",
        f["caps"]
    );
    Ok(())
}

fn no_new_privs() -> Result<()> {
    for (set, want) in [(true, 1), (false, 0)] {
        let f = probe_with(&["facts"], |b| {
            b.set("/process/noNewPrivileges", json!(set));
        })?;
        ensure!(
            f["no_new_privs"] == want,
            "noNewPrivileges {set}: NoNewPrivs {}",
            f["no_new_privs"]
        );
    }
    Ok(())
}

fn oom_set() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.set("/process/oomScoreAdj", json!(345));
    })?;
    ensure!(
        f["oom_score_adj"] == 345,
        "oom_score_adj {}",
        f["oom_score_adj"]
    );
    Ok(())
}

fn oom_unset() -> Result<()> {
    let rt = rt()?;
    let b = Bundle::new("oomunset")?;
    b.write()?;
    let _g = rt.guard(b.id());
    let o = Opts {
        wrapper: [
            "/bin/sh",
            "-c",
            "echo 123 > /proc/self/oom_score_adj && exec \"$@\"",
            "sh",
        ]
        .map(String::from)
        .to_vec(),
        timeout: Some(Duration::from_secs(60)),
        ..Opts::default()
    };
    let out = rt.cmd_opts(&["run", "--bundle", &b.path_str(), b.id()], &o)?;
    let f = probe::parse(&out)?;
    ensure!(
        f["oom_score_adj"] == 123,
        "oom_score_adj {} (the runtime's was 123)",
        f["oom_score_adj"]
    );
    Ok(())
}

fn io_priority() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.set(
            "/process/ioPriority",
            json!({ "class": "IOPRIO_CLASS_IDLE", "priority": 0 }),
        );
    })?;
    ensure!(
        f["ioprio"] == 3 << 13,
        "ioprio {} (want IDLE = {})",
        f["ioprio"],
        3 << 13
    );
    Ok(())
}

fn user_ids() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.set(
            "/process/user",
            json!({ "uid": 1234, "gid": 2345, "additionalGids": [5, 6] }),
        );
    })?;
    ensure!(
        f["uid"] == json!([1234, 1234, 1234, 1234]) && f["gid"] == json!([2345, 2345, 2345, 2345]),
        "uid {} gid {}",
        f["uid"],
        f["gid"]
    );
    let g = f["groups"].as_array().cloned().unwrap_or_default();
    ensure!(
        g.contains(&json!(5)) && g.contains(&json!(6)),
        "groups {g:?}"
    );
    Ok(())
}

fn user_umask() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.set("/process/user/umask", json!(0o027));
    })?;
    ensure!(f["umask"] == "0027", "umask {}", f["umask"]);
    Ok(())
}
