// SPDX-License-Identifier: Apache-2.0
//! Real engines drive the built runtime (root): `tests/engines/run.sh` (podman as root,
//! containerd through ctr and its runc shim, rootless podman; the shared `clients.sh`
//! scenarios plus its leftover check) and `tests/engines/docker.sh` (a private dockerd).
//! Builds nothing: the runtime is `$OCI_RUNTIME`, else the `stockade-oci` built next to this
//! test. Streams the scripts' output, prints how long each took, and fails unless both end
//! with `N passed, 0 failed` (N > 0) and exit 0. The work directory (logs per scenario under
//! `logs/`) is removed on success and kept, with its path printed, on failure.
//! Filters: `cargo test --test engines -- clients` or `-- docker` runs one script.
//! Custom harness (`harness = false`): the scripts need no libtest around them.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One script: its name for filters, the script path under the workspace, and a work subdir.
const PARTS: &[(&str, &str)] = &[
    ("clients", "tests/engines/run.sh"),
    ("docker", "tests/engines/docker.sh"),
];

/// Runs `script WORKDIR` with `RUNTIME=runtime`, echoing each line; returns the exit status
/// and the last line.
fn run_script(script: &Path, work: &Path, runtime: &Path) -> (bool, String) {
    let mut child = Command::new("bash")
        .arg(script)
        .arg(work)
        .env("RUNTIME", runtime)
        .env("STOCKADE_SHARED", stockade_testutil::shared_dir())
        .env_remove("HYBRID_FIX")
        .env_remove("DOCKER")
        .env_remove("TRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let status = child.wait().unwrap();
    // a process the script left behind may hold the pipe: do not wait for it forever
    let mut last = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        last = line;
    }
    (status.success(), last)
}

/// `N passed, M failed...` → (N, M).
fn counts(summary: &str) -> Option<(u32, u32)> {
    let (p, rest) = summary.split_once(" passed, ")?;
    let f = rest.split_whitespace().next()?;
    Some((p.trim().parse().ok()?, f.parse().ok()?))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in PARTS {
            println!("engines::{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    if !stockade_testutil::needs_root("engines (podman, containerd, docker)") {
        return ExitCode::SUCCESS;
    }
    // libtest's conventions: substrings select, `--skip PATTERN` excludes
    let mut filters = Vec::new();
    let mut skips = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--skip" => skips.extend(it.next()),
            f if !f.starts_with('-') => filters.push(a),
            _ => {}
        }
    }
    let runtime = match stockade_e2e::runtime::runtime_bin() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("engines: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let repo = stockade_testutil::workspace_root();
    let work = tempfile::Builder::new()
        .prefix("stockade-engines-")
        .tempdir()
        .unwrap();
    // the rootless user reads the image archive below it
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut failed = Vec::new();
    let mut figures = Vec::new();
    for (name, script) in PARTS {
        let full = format!("engines::{name}");
        if (!filters.is_empty() && !filters.iter().any(|f| full.contains(f.as_str())))
            || skips.iter().any(|s| full.contains(s.as_str()))
        {
            continue;
        }
        println!(
            "=== engines::{name}: {script} against {}",
            runtime.display()
        );
        let start = Instant::now();
        let (ok, last) = run_script(&repo.join(script), &work.path().join(name), &runtime);
        let secs = start.elapsed().as_secs_f64();
        figures.push(format!("{name}: {last} in {secs:.0} s"));
        match counts(&last) {
            Some((p, 0)) if ok && p > 0 => {}
            _ => failed.push(format!("{name} ({last}, exit ok={ok})")),
        }
    }
    println!("engines: {}", figures.join("; "));
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    let kept = work.keep();
    eprintln!(
        "engines: FAILED: {}; logs kept in {}",
        failed.join(", "),
        kept.display()
    );
    ExitCode::FAILURE
}
