// SPDX-License-Identifier: Apache-2.0
//! Cost of the cgroup part of a container start on this host (root only): `detect`, then
//! `new + create`, `apply` of a typical Docker-like resource set, `add_pid` of a sleeping
//! child, and `destroy`. The peer is the straightforward path-based version of the same work
//! (`create_dir_all` + `fs::write` per file + `remove_dir`), run on the same hierarchies.
//!
//! `cargo bench -p stockade-cgroups --bench lifecycle` prints medians and p90 in µs.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;
use stockade_cgroups::{Manager, detect};

const ROUNDS: usize = 200;

const RESOURCES: &str = r#"{
  "devices": [
    {"allow": false, "access": "rwm"},
    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
    {"allow": true, "type": "c", "major": 136, "access": "rwm"}
  ],
  "memory": {"limit": 268435456},
  "cpu": {"shares": 512},
  "pids": {"limit": 1024}
}"#;

/// Files and values the path-based peer writes (the same as `apply` above).
const PEER_WRITES: &[(&str, &str, &str)] = &[
    ("devices", "devices.deny", "a"),
    ("devices", "devices.allow", "c 1:3 rwm"),
    ("devices", "devices.allow", "c 1:5 rwm"),
    ("devices", "devices.allow", "c 1:7 rwm"),
    ("devices", "devices.allow", "c 1:8 rwm"),
    ("devices", "devices.allow", "c 1:9 rwm"),
    ("devices", "devices.allow", "c 5:0 rwm"),
    ("devices", "devices.allow", "c 5:2 rwm"),
    ("devices", "devices.allow", "c 136:* rwm"),
    ("memory", "memory.limit_in_bytes", "268435456"),
    ("cpu", "cpu.shares", "512"),
    ("pids", "pids.max", "1024"),
];

#[derive(Default)]
struct Phase(Vec<Duration>);

impl Phase {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let v = f();
        self.0.push(t.elapsed());
        v
    }
    fn report(&mut self, name: &str) {
        self.0.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let (med, p90) = (self.0[self.0.len() / 2], self.0[self.0.len() * 9 / 10]);
        println!(
            "{name:<26} median {:>8.1} µs   p90 {:>8.1} µs",
            us(med),
            us(p90)
        );
    }
}

/// Moves `pid` back to the parent of each directory: test cgroups are relative, so the
/// parent is our own cgroup; the directories are then empty, as after a container exits.
fn move_back(dirs: &[(String, PathBuf)], pid: i32) {
    for (_, d) in dirs {
        std::fs::write(d.parent().unwrap().join("cgroup.procs"), pid.to_string()).unwrap();
    }
}

fn main() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("*** skipped: needs root: cgroup lifecycle bench ***");
        return;
    }
    let resources: LinuxResources = serde_json::from_str(RESOURCES).unwrap();
    let mut child: Child = Command::new("sleep").arg("600").spawn().unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let base = format!("stockade-bench-{}", std::process::id());
    let [
        mut det,
        mut create,
        mut apply,
        mut add,
        mut destroy,
        mut total,
        mut peer,
    ] = std::array::from_fn(|_| Phase::default());
    for i in 0..ROUNDS {
        let layout = det.time(|| detect(Path::new("/proc")).unwrap());
        let start = Instant::now();
        let m = create.time(|| {
            let mut m = Manager::new(&layout, &format!("{base}-{i}"), "bench", false).unwrap();
            m.create().unwrap();
            m
        });
        apply.time(|| m.apply(&resources).unwrap());
        add.time(|| m.add_pid(pid).unwrap());
        move_back(&m.paths(), pid);
        destroy.time(|| m.destroy().unwrap());
        total.0.push(start.elapsed());
    }
    let layout = detect(Path::new("/proc")).unwrap();
    let dirs = Manager::new(&layout, &format!("{base}-peer"), "peer", false)
        .unwrap()
        .paths();
    for _ in 0..ROUNDS {
        peer.time(|| peer_cycle(&dirs, pid));
    }
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "cgroup lifecycle, {ROUNDS} rounds, {} directories per container",
        dirs.len()
    );
    det.report("detect");
    create.report("new + create");
    apply.report("apply (docker-like set)");
    add.report("add_pid");
    destroy.report("destroy");
    total.report("stockade: create..destroy");
    peer.report("peer: path-based, same");
}

/// The same work with plain path-based std::fs calls.
fn peer_cycle(dirs: &[(String, PathBuf)], pid: i32) {
    for (h, d) in dirs {
        std::fs::create_dir_all(d).unwrap();
        if h.split(',').any(|c| c == "cpuset") {
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let v = std::fs::read_to_string(d.parent().unwrap().join(f)).unwrap();
                std::fs::write(d.join(f), v.trim()).unwrap();
            }
        }
    }
    for (ctl, file, value) in PEER_WRITES {
        let d = dirs
            .iter()
            .find(|(h, _)| h.split(',').any(|c| c == *ctl))
            .unwrap();
        std::fs::write(d.1.join(file), value).unwrap();
    }
    for (_, d) in dirs {
        std::fs::write(d.join("cgroup.procs"), pid.to_string()).unwrap();
    }
    move_back(dirs, pid);
    for (_, d) in dirs {
        std::fs::remove_dir(d).unwrap();
    }
}
