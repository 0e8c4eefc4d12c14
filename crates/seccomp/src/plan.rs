// SPDX-License-Identifier: Apache-2.0
//! A validated profile turned into the exact libseccomp rules to add (pure: no filter yet).
//!
//! * Unknown syscall names are skipped with a debug log (runc's behaviour).
//! * An entry whose conditions repeat an argument index becomes one rule per condition.
//! * A rule with the default action is dropped (libseccomp refuses it as redundant).
//! * libseccomp keeps only the unconditional rule of a syscall; when that silently drops a
//!   *stricter* conditional rule (say, `ALLOW ioctl` plus `ERRNO ioctl(TIOCSTI)`), we refuse
//!   the profile instead of loading a filter weaker than written.

use std::collections::HashMap;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpSyscall};
use oci_spec::runtime::{Arch, LinuxSeccomp};

use crate::profile::has_repeated_index;
use crate::{SeccompError, translate};

/// One libseccomp rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub name: String,
    pub syscall: ScmpSyscall,
    pub action: ScmpAction,
    pub conditions: Vec<ScmpArgCompare>,
}

/// Everything [`crate::compile`] feeds to libseccomp.
#[derive(Debug)]
pub(crate) struct Plan {
    pub default: ScmpAction,
    /// Extra architectures with their OCI names (the native one is always in the filter).
    pub arches: Vec<(ScmpArch, Arch)>,
    /// Rules to add, without the ones equal to the default action.
    pub rules: Vec<Rule>,
    /// Every syscall name the profile mentions that libseccomp knows.
    pub known_names: Vec<String>,
    pub notify: bool,
}

/// Builds the plan of an already validated profile.
pub(crate) fn build(profile: &LinuxSeccomp) -> Result<Plan, SeccompError> {
    let default = translate::action(
        profile.default_action(),
        profile.default_errno_ret(),
        || "defaultErrnoRet".to_owned(),
    )?;
    let arches = profile
        .architectures()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|a| Some((translate::arch(*a)?, *a)))
        .collect();
    let mut all = Vec::new();
    let mut known_names = Vec::new();
    for entry in profile.syscalls().as_deref().unwrap_or_default() {
        let action = translate::action(entry.action(), entry.errno_ret(), || {
            entry.names().join(",")
        })?;
        let args = entry.args().as_deref().unwrap_or_default();
        for name in entry.names() {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                tracing::debug!(syscall = %name, "seccomp: skipping syscall unknown to libseccomp");
                continue;
            };
            if !known_names.contains(name) {
                known_names.push(name.clone());
            }
            let conditions = args
                .iter()
                .map(|a| translate::condition(a, name))
                .collect::<Result<Vec<_>, _>>()?;
            let rule = |conditions| Rule {
                name: name.clone(),
                syscall,
                action,
                conditions,
            };
            if has_repeated_index(args) {
                all.extend(conditions.into_iter().map(|c| rule(vec![c])));
            } else {
                all.push(rule(conditions));
            }
        }
    }
    check_shadowing(&all)?;
    let notify = all.iter().any(|r| r.action == ScmpAction::Notify);
    all.retain(|r| {
        let keep = r.action != default;
        if !keep {
            tracing::debug!(syscall = %r.name, "seccomp: rule equals the default action");
        }
        keep
    });
    Ok(Plan {
        default,
        arches,
        rules: all,
        known_names,
        notify,
    })
}

fn check_shadowing(rules: &[Rule]) -> Result<(), SeccompError> {
    let mut unconditional: HashMap<ScmpSyscall, ScmpAction> = HashMap::new();
    for r in rules.iter().filter(|r| r.conditions.is_empty()) {
        let slot = unconditional.entry(r.syscall).or_insert(r.action);
        if translate::strictness(r.action) > translate::strictness(*slot) {
            *slot = r.action;
        }
    }
    for r in rules.iter().filter(|r| !r.conditions.is_empty()) {
        if let Some(&u) = unconditional.get(&r.syscall)
            && translate::strictness(r.action) > translate::strictness(u)
        {
            return Err(SeccompError::ShadowedRule {
                name: r.name.clone(),
                conditional: translate::action_name(r.action),
                unconditional: translate::action_name(u),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_profile;
    use libseccomp::ScmpCompareOp;

    fn plan(json: &str) -> Result<Plan, SeccompError> {
        build(&parse_profile(json.as_bytes()).unwrap())
    }

    #[test]
    fn unknown_names_are_skipped_and_default_rules_dropped() {
        let p = plan(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["read","no_such_syscall"],"action":"SCMP_ACT_ALLOW"},
                {"names":["mount"],"action":"SCMP_ACT_ERRNO"},
                {"names":["bpf"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        )
        .unwrap();
        let names: Vec<_> = p.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["read", "bpf"]);
        assert_eq!(p.rules[1].action, ScmpAction::Errno(libc::ENOSYS));
        assert_eq!(p.known_names, ["read", "mount", "bpf"]);
        assert_eq!(p.default, ScmpAction::Errno(libc::EPERM));
    }

    #[test]
    fn distinct_indices_and_repeated_indices() {
        let p = plan(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["socket"],"action":"SCMP_ACT_ERRNO","args":[
                    {"index":0,"value":40,"op":"SCMP_CMP_EQ"},
                    {"index":1,"value":1,"op":"SCMP_CMP_EQ"}]},
                {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[
                    {"index":0,"value":8,"op":"SCMP_CMP_EQ"},
                    {"index":0,"value":65536,"op":"SCMP_CMP_GT"}]}]}"#,
        )
        .unwrap();
        assert_eq!(p.rules.len(), 3);
        assert_eq!(
            p.rules[0].conditions.len(),
            2,
            "distinct indices stay one AND rule"
        );
        let personality: Vec<_> = p.rules[1..].iter().map(|r| r.conditions.clone()).collect();
        assert_eq!(
            personality,
            [
                vec![ScmpArgCompare::new(0, ScmpCompareOp::Equal, 8)],
                vec![ScmpArgCompare::new(0, ScmpCompareOp::Greater, 65536)],
            ]
        );
    }

    #[test]
    fn stricter_conditional_rule_under_unconditional_allow_is_refused() {
        let err = plan(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["ioctl"],"action":"SCMP_ACT_ALLOW"},
                {"names":["ioctl"],"action":"SCMP_ACT_ERRNO","args":[
                    {"index":1,"value":21522,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "syscall ioctl: SCMP_ACT_ERRNO(1) rule with arguments is overridden by the \
             unconditional SCMP_ACT_ALLOW rule"
        );
        // The fail-safe direction (a conditional ALLOW under an unconditional deny) is fine.
        assert!(
            plan(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["ioctl"],"action":"SCMP_ACT_ERRNO"},
                {"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[
                    {"index":1,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            )
            .is_ok()
        );
    }

    #[test]
    fn notify_is_detected() {
        let p = plan(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/x.sock",
                "syscalls":[{"names":["mkdirat"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        )
        .unwrap();
        assert!(p.notify);
    }
}
