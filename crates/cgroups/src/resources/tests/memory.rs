// SPDX-License-Identifier: Apache-2.0
//! Memory limits, swap conversion and `checkBeforeUpdate`.

use super::super::memory::swap_to_v2;
use super::*;

#[test]
fn v1_memory_limit_swap_and_friends() {
    let f = Fake::v1(&["memory"]);
    f.files(
        "memory",
        &[
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.soft_limit_in_bytes",
            "memory.swappiness",
            "memory.oom_control",
            "memory.kmem.tcp.limit_in_bytes",
        ],
    );
    let w =
        f.m.apply(&res(
            r#"{"memory":{"limit":1048576,"swap":2097152,"reservation":524288,
        "kernel":4096,"kernelTCP":8192,"swappiness":10,"disableOOMKiller":true}}"#,
        ))
        .unwrap();
    assert_eq!(f.writes("memory", "memory.limit_in_bytes"), ["1048576"]);
    assert_eq!(
        f.writes("memory", "memory.memsw.limit_in_bytes"),
        ["2097152"]
    );
    assert_eq!(f.writes("memory", "memory.soft_limit_in_bytes"), ["524288"]);
    assert_eq!(
        f.writes("memory", "memory.kmem.tcp.limit_in_bytes"),
        ["8192"]
    );
    assert_eq!(f.writes("memory", "memory.swappiness"), ["10"]);
    assert_eq!(f.writes("memory", "memory.oom_control"), ["1"]);
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].to_string(),
        "ignoring memory.kernel: kernel memory limits are obsolete"
    );
    // Unlimited memory without swap means unlimited memsw too (runc).
    f.m.update(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(
        f.writes("memory", "memory.limit_in_bytes"),
        ["1048576", "-1"]
    );
    assert_eq!(
        f.writes("memory", "memory.memsw.limit_in_bytes"),
        ["2097152", "-1"]
    );
    let err =
        f.m.apply(&res(r#"{"memory":{"swappiness":101}}"#))
            .unwrap_err();
    assert_eq!(err.to_string(), "invalid memory swappiness \"101\"");
}

#[test]
fn v1_missing_memsw_is_an_error_naming_the_file_unless_unlimited() {
    let f = Fake::v1(&["memory"]);
    f.files("memory", &["memory.limit_in_bytes"]);
    f.m.apply(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    let err =
        f.m.apply(&res(r#"{"memory":{"limit":100,"swap":200}}"#))
            .unwrap_err();
    let file = f.leaf("memory").join("memory.memsw.limit_in_bytes");
    assert_eq!(
        err.to_string(),
        format!("cannot write 200 to {}", file.display())
    );
}

#[test]
fn v2_swap_is_memory_plus_swap_minus_memory() {
    assert_eq!(swap_to_v2(0, -1).unwrap(), -1);
    assert_eq!(swap_to_v2(-1, 100).unwrap(), -1);
    assert_eq!(swap_to_v2(0, 100).unwrap(), 0);
    assert_eq!(swap_to_v2(300, 100).unwrap(), 200);
    assert_eq!(swap_to_v2(100, 100).unwrap(), 0);
    assert!(swap_to_v2(50, 100).is_err());
    assert!(swap_to_v2(100, 0).is_err());
    let f = Fake::v2(&["memory"]);
    f.files("unified", &["memory.max", "memory.swap.max", "memory.low"]);
    let w =
        f.m.apply(&res(
            r#"{"memory":{"limit":100,"swap":300,"reservation":50,"swappiness":5}}"#,
        ))
        .unwrap();
    assert_eq!(f.writes("unified", "memory.swap.max"), ["200"]);
    assert_eq!(f.writes("unified", "memory.max"), ["100"]);
    assert_eq!(f.writes("unified", "memory.low"), ["50"]);
    assert_eq!(
        w[0].to_string(),
        "ignoring memory.swappiness: not available on cgroup v2"
    );
    f.m.update(&res(r#"{"memory":{"limit":100,"swap":100}}"#))
        .unwrap();
    assert_eq!(
        f.writes("unified", "memory.swap.max"),
        ["200", "0"],
        "swap == limit: no swap"
    );
    f.m.update(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(f.writes("unified", "memory.max"), ["100", "100", "max"]);
    assert_eq!(f.writes("unified", "memory.swap.max"), ["200", "0", "max"]);
    let err =
        f.m.apply(&res(r#"{"memory":{"swap":300}}"#))
            .unwrap_err()
            .to_string();
    assert!(err.contains("a swap limit needs a memory limit"), "{err}");
}

#[test]
fn check_before_update_refuses_a_limit_below_usage() {
    let f = Fake::v2(&["memory"]);
    f.files("unified", &["memory.max"]);
    std::fs::write(f.leaf("unified").join("memory.current"), "4096\n").unwrap();
    let r = res(r#"{"memory":{"limit":1000,"checkBeforeUpdate":true}}"#);
    assert!(
        f.m.update(&r)
            .unwrap_err()
            .to_string()
            .contains("below current usage")
    );
    f.m.apply(&r).unwrap();
    assert_eq!(
        f.writes("unified", "memory.max"),
        ["1000"],
        "apply does not check"
    );
}
