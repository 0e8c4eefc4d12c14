// SPDX-License-Identifier: Apache-2.0
//! Bounds on how much work a profile may ask of libseccomp.
//!
//! libseccomp's BPF generator is fast for ordinary profiles (the default profile: a few ms)
//! but superlinear in its output and exponential in rules that combine several argument
//! conditions on one syscall. Measured with libseccomp 2.5.4 on this VM:
//! * 3 rules of 6 `SCMP_CMP_GT` conditions on one syscall: 3 s; 4 rules: over a minute;
//! * 16 syscalls x 128 single-condition rules (~2100 instructions): 1.1 s; x 256: 15 s;
//! * 200 syscalls x one 6-condition rule, 5 ABIs: 4 minutes.
//!
//! A profile is untrusted input and compiling runs on every container start, so we refuse
//! shapes that could take more than a fraction of a second, before calling libseccomp:
//! * at most [`MAX_RULES_PER_SYSCALL`] rules per syscall name;
//! * **condition cost**: each syscall with a rule of two or more conditions costs
//!   `conditional_rules ^ max_conditions`; the sum stays within [`MAX_CONDITION_COST`];
//! * **size estimate**: `abis x Σ(1 + 2 x conditions)` over expanded rules stays within
//!   [`MAX_ESTIMATED_INSTRUCTIONS`] (the kernel takes at most 4096 anyway).
//!
//! moby's, podman's and our default profile are far inside these bounds. The fuzz target
//! (`fuzz/fuzz_targets/seccomp_profile.rs`, run with a per-input timeout) hunts for shapes
//! that pass the bounds and are still slow.

use std::collections::HashMap;

use oci_spec::runtime::{Arch, LinuxSeccomp};

use crate::SeccompError;
use crate::profile::has_repeated_index;

/// Most libseccomp rules for one syscall name.
pub const MAX_RULES_PER_SYSCALL: usize = 256;
/// Budget for rules with several conditions (see the module documentation).
pub const MAX_CONDITION_COST: u64 = 256;
/// Budget for the estimated program size, in instructions over all ABIs.
pub const MAX_ESTIMATED_INSTRUCTIONS: u64 = 3500;

#[derive(Default)]
struct PerSyscall {
    rules: usize,
    conditional: u64,
    max_conditions: u32,
}

/// Checks the three bounds of the module documentation.
pub(crate) fn check(profile: &LinuxSeccomp) -> Result<(), SeccompError> {
    let rules = profile.syscalls().as_deref().unwrap_or_default();
    let mut per: HashMap<&str, PerSyscall> = HashMap::new();
    let mut units = 0u64;
    for rule in rules {
        let args = rule.args().as_deref().unwrap_or_default();
        let n = u32::try_from(args.len()).unwrap_or(u32::MAX);
        // (expanded rules per name, conditions in each)
        let (count, conditions) = match n {
            0 => (1, 0),
            _ if has_repeated_index(args) => (n, 1),
            _ => (1, n),
        };
        let each = u64::from(count).saturating_mul(1 + 2 * u64::from(conditions));
        units = units.saturating_add(each.saturating_mul(rule.names().len() as u64));
        for name in rule.names() {
            let e = per.entry(name.as_str()).or_default();
            e.rules = e.rules.saturating_add(count as usize);
            if conditions > 0 {
                e.conditional = e.conditional.saturating_add(u64::from(count));
                e.max_conditions = e.max_conditions.max(conditions);
            }
        }
    }
    let mut cost = 0u64;
    for e in per.values() {
        if e.rules > MAX_RULES_PER_SYSCALL {
            let (what, limit) = ("rules for one syscall", MAX_RULES_PER_SYSCALL);
            return Err(SeccompError::TooMany {
                what,
                count: e.rules,
                limit,
            });
        }
        if e.max_conditions >= 2 {
            cost = cost.saturating_add(e.conditional.saturating_pow(e.max_conditions));
        }
    }
    if cost > MAX_CONDITION_COST {
        return Err(SeccompError::TooComplex {
            cost,
            limit: MAX_CONDITION_COST,
        });
    }
    let estimate = units.saturating_mul(abis(profile));
    if estimate > MAX_ESTIMATED_INSTRUCTIONS {
        return Err(SeccompError::TooLarge {
            estimate,
            limit: MAX_ESTIMATED_INSTRUCTIONS,
        });
    }
    Ok(())
}

/// Number of ABIs in the filter: the listed ones plus the native one.
fn abis(profile: &LinuxSeccomp) -> u64 {
    let mut arches: Vec<Arch> = profile.architectures().clone().unwrap_or_default();
    arches.retain(|a| *a != Arch::ScmpArchNative);
    arches.sort_by_key(|a| *a as u32);
    arches.dedup();
    let native_listed = arches
        .iter()
        .any(|a| crate::translate::arch(*a) == Some(libseccomp::ScmpArch::native()));
    arches.len() as u64 + u64::from(!native_listed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_profile;

    fn message(json: &str) -> String {
        parse_profile(json.as_bytes()).unwrap_err().to_string()
    }

    fn multi_condition_rules(rules: usize, conditions: usize) -> String {
        let entries: Vec<String> = (0..rules)
            .map(|r| {
                let args: Vec<String> = (0..conditions)
                    .map(|i| {
                        format!(
                            r#"{{"index":{i},"value":{},"op":"SCMP_CMP_GT"}}"#,
                            r * 10 + i
                        )
                    })
                    .collect();
                format!(
                    r#"{{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{}]}}"#,
                    args.join(",")
                )
            })
            .collect();
        format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{}]}}"#,
            entries.join(",")
        )
    }

    #[test]
    fn exponential_condition_sets_are_refused() {
        assert!(parse_profile(multi_condition_rules(2, 6).as_bytes()).is_ok()); // 2^6 = 64
        assert!(parse_profile(multi_condition_rules(3, 5).as_bytes()).is_ok()); // 243
        let m = message(&multi_condition_rules(3, 6)); // 729: 3 s in libseccomp
        assert_eq!(
            m,
            "seccomp profile conditions are too complex to compile (cost 729, limit 256)"
        );
    }

    #[test]
    fn rules_per_syscall_and_size_are_bounded() {
        let m = message(&multi_condition_rules(257, 1));
        assert_eq!(
            m,
            "seccomp profile has 257 rules for one syscall, the limit is 256"
        );
        // 200 syscalls with one 6-condition rule each, 5 ABIs (4 minutes in libseccomp).
        let names: Vec<String> = (0..200).map(|i| format!(r#""s{i}""#)).collect();
        let args: Vec<String> = (0..6)
            .map(|i| format!(r#"{{"index":{i},"value":7,"op":"SCMP_CMP_GT"}}"#))
            .collect();
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64",
                "SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"],
                "syscalls":[{{"names":[{}],"action":"SCMP_ACT_ERRNO","args":[{}]}}]}}"#,
            names.join(","),
            args.join(",")
        );
        let m = message(&json);
        assert!(
            m.starts_with("seccomp profile would compile to about 13000 instructions"),
            "{m}"
        );
    }

    #[test]
    fn default_profile_is_well_inside() {
        assert!(check(&crate::default_profile()).is_ok());
    }
}
