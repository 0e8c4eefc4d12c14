// SPDX-License-Identifier: Apache-2.0
//! Device rule emulation and the BPF program, checked against each other with a small
//! interpreter of the instructions we emit.

use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};
use stockade_sys::bpf::Insn;

use super::bpf::program;
use super::*;

fn rule(
    allow: bool,
    t: Option<LinuxDeviceType>,
    ma: Option<i64>,
    mi: Option<i64>,
    acc: &str,
) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).access(acc);
    if let Some(t) = t {
        b = b.typ(t);
    }
    if let Some(v) = ma {
        b = b.major(v);
    }
    if let Some(v) = mi {
        b = b.minor(v);
    }
    b.build().unwrap()
}

/// Runs our subset of eBPF on a device request; panics on anything unexpected.
fn run(prog: &[Insn], typ: DevType, major: u32, minor: u32, access: u8) -> bool {
    let t: u32 = if typ == DevType::Block { 1 } else { 2 };
    let ctx = [(u32::from(access) << 16) | t, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..10_000 {
        let i = prog[pc];
        let (d, s) = (usize::from(i.dst()), usize::from(i.src()));
        let imm = i64::from(i.imm).cast_unsigned();
        pc += 1;
        match i.code {
            0x61 => {
                assert_eq!(s, 1, "loads only from ctx");
                r[d] = u64::from(ctx[usize::try_from(i.off).unwrap() / 4]);
            }
            0x57 => r[d] &= imm,
            0x77 => r[d] >>= imm,
            0xb7 => r[d] = imm,
            0xbf => r[d] = r[s],
            0x15 | 0x55 => {
                if (r[d] == imm) == (i.code == 0x15) {
                    pc = pc.checked_add_signed(isize::from(i.off)).unwrap();
                }
            }
            0x95 => {
                assert!(r[0] <= 1, "verdict must be 0 or 1");
                return r[0] == 1;
            }
            c => panic!("unexpected opcode {c:#x}"),
        }
        assert!(pc < prog.len(), "jump out of the program");
    }
    panic!("program did not terminate")
}

/// Every request on a grid of devices gets the same verdict from the model and the program.
fn assert_program_matches(state: &DeviceState) {
    let prog = program(state);
    for typ in [DevType::Block, DevType::Char] {
        for major in [0, 1, 5, 7, 136, 4095] {
            for minor in [0, 1, 3, 5, 9, 200] {
                for access in 1..=ACC_ALL {
                    let want = state.check(typ, major, minor, access);
                    let got = run(&prog, typ, major, minor, access);
                    assert_eq!(
                        got, want,
                        "{typ:?} {major}:{minor} acc={access} state={state:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn docker_style_rules_make_an_allow_list() {
    use LinuxDeviceType::{A, B, C};
    let rules = vec![
        rule(false, None, None, None, "rwm"),
        rule(true, Some(C), None, None, "m"),
        rule(true, Some(B), None, None, "m"),
        rule(true, Some(C), Some(1), Some(3), "rwm"),
        rule(true, Some(C), Some(1), Some(5), "rwm"),
        rule(true, Some(C), Some(136), None, "rwm"),
        rule(false, Some(C), Some(1), Some(5), "w"),
        rule(true, Some(A), Some(7), None, "r"),
    ];
    let s = DeviceState::from_rules(&rules).unwrap();
    assert!(!s.default_allow);
    assert!(s.check(DevType::Char, 1, 3, ACC_READ | ACC_WRITE));
    assert!(s.check(DevType::Char, 1, 5, ACC_READ));
    assert!(
        !s.check(DevType::Char, 1, 5, ACC_WRITE),
        "later deny removed w"
    );
    assert!(!s.check(DevType::Char, 1, 9, ACC_READ));
    assert!(s.check(DevType::Block, 8, 0, ACC_MKNOD));
    assert!(s.check(DevType::Block, 7, 1, ACC_READ) && !s.check(DevType::Block, 7, 1, ACC_WRITE));
    let lines: Vec<String> = s.exceptions.iter().map(|(k, a)| rule_line(k, *a)).collect();
    assert_eq!(
        lines,
        [
            "b *:* m",
            "b 7:* r",
            "c *:* m",
            "c 1:3 rwm",
            "c 1:5 rm",
            "c 7:* r",
            "c 136:* rwm"
        ]
    );
    assert_program_matches(&s);
}

#[test]
fn deny_list_and_resets_follow_the_kernel() {
    use LinuxDeviceType::C;
    let rules = vec![
        rule(true, None, None, None, ""),
        rule(false, Some(C), Some(1), Some(3), "w"),
        rule(false, Some(C), Some(5), None, "rwm"),
        rule(true, Some(C), Some(5), None, "r"),
    ];
    let s = DeviceState::from_rules(&rules).unwrap();
    assert!(s.default_allow);
    assert!(
        !s.check(DevType::Char, 1, 3, ACC_READ | ACC_WRITE),
        "any overlap denies"
    );
    assert!(s.check(DevType::Char, 1, 3, ACC_READ));
    assert!(s.check(DevType::Char, 5, 2, ACC_READ) && !s.check(DevType::Char, 5, 2, ACC_MKNOD));
    assert_program_matches(&s);
    // A deny-all resets whatever came before.
    let mut all = rules.clone();
    all.push(rule(false, None, None, None, "rwm"));
    let s = DeviceState::from_rules(&all).unwrap();
    assert_eq!(s, DeviceState::default());
    assert_program_matches(&s);
    assert_program_matches(&DeviceState::allow_all());
}

#[test]
fn fifo_rules_are_skipped_and_bad_values_refused() {
    let s = DeviceState::from_rules(&[rule(false, Some(LinuxDeviceType::P), None, None, "rwm")])
        .unwrap();
    assert_eq!(s, DeviceState::allow_all());
    let err = DeviceState::from_rules(&[rule(true, None, Some(1), None, "rwx")]).unwrap_err();
    assert_eq!(err.to_string(), "invalid device access \"rwx\"");
    assert!(DeviceState::from_rules(&[rule(true, None, Some(-2), None, "r")]).is_err());
    assert!(DeviceState::from_rules(&[rule(true, None, Some(1 << 31), None, "r")]).is_err());
}

#[test]
fn program_shape_is_what_the_verifier_expects() {
    let s = DeviceState::from_rules(&[
        rule(false, None, None, None, "rwm"),
        rule(true, Some(LinuxDeviceType::C), Some(1), Some(3), "rw"),
    ])
    .unwrap();
    let p = program(&s);
    // 6 loads, then: JNE type, MOV, AND ~rw, JNE, JNE major, JNE minor, MOV 1, EXIT; MOV 0, EXIT.
    assert_eq!(p.len(), 6 + 8 + 2);
    assert_eq!((p[6].code, p[6].dst(), p[6].imm, p[6].off), (0x55, 2, 2, 7));
    assert_eq!((p[8].code, p[8].imm), (0x57, i32::from(ACC_MKNOD)));
    assert_eq!(
        (p[10].code, p[10].dst(), p[10].imm, p[10].off),
        (0x55, 4, 1, 3)
    );
    assert_eq!((p[12].code, p[12].imm), (0xb7, 1));
    assert_eq!((p[14].code, p[14].imm, p[15].code), (0xb7, 0, 0x95));
}

#[test]
fn devices_list_parses_allow_lists_only() {
    let s = DeviceState::from_list("c 1:3 rwm\nb *:* m\nc 136:* rw\n").unwrap();
    assert!(!s.default_allow);
    assert_eq!(s.exceptions.len(), 3);
    assert_eq!(
        s.exceptions[&(DevType::Char, Some(136), None)],
        ACC_READ | ACC_WRITE
    );
    assert_eq!(DeviceState::from_list("a *:* rwm\n"), None);
    assert_eq!(DeviceState::from_list(""), Some(DeviceState::default()));
}

#[test]
fn default_rules_allow_the_standard_nodes_only() {
    let mut rules = vec![rule(false, None, None, None, "rwm")];
    rules.extend(default_rules());
    let s = DeviceState::from_rules(&rules).unwrap();
    for (major, minor) in [(1, 3), (1, 5), (1, 9), (5, 2), (136, 7)] {
        assert!(
            s.check(DevType::Char, major, minor, ACC_READ | ACC_WRITE),
            "{major}:{minor}"
        );
    }
    assert!(s.check(DevType::Block, 8, 0, ACC_MKNOD));
    assert!(!s.check(DevType::Block, 8, 0, ACC_READ), "no disk access");
    assert!(
        !s.check(DevType::Char, 10, 200, ACC_READ),
        "no tun by default"
    );
    assert!(!s.check(DevType::Char, 1, 1, ACC_READ), "no /dev/mem");
    assert_program_matches(&s);
}
