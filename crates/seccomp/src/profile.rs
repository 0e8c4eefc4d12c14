// SPDX-License-Identifier: Apache-2.0
//! Parsing and validating an OCI seccomp profile (untrusted input: bounded and fuzzed).
//!
//! Unknown actions, architectures, flags and operators are refused by the typed
//! deserialiser, whose message names the value. Unknown syscall *names* are not an error
//! here: [`crate::compile`] skips them, as runc does, so a profile written for a newer kernel
//! still loads.

use std::collections::HashSet;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag};

use crate::{SeccompError, translate};

/// Largest profile text accepted by [`parse_profile`] (moby's default profile is ~13 KiB).
pub const MAX_PROFILE_BYTES: usize = 1 << 20;
/// Most `syscalls` entries in a profile.
pub const MAX_RULES: usize = 4096;
/// Most syscall names over all entries.
pub const MAX_NAMES: usize = 8192;
/// Most argument conditions in one entry.
pub const MAX_CONDITIONS: usize = 16;
/// Most libseccomp rules one profile may expand to (names x split conditions).
pub const MAX_EXPANDED_RULES: usize = 4096;
/// Syscalls that cannot be `SCMP_ACT_NOTIFY`: after loading the filter, the container init
/// still uses them to hand the listener fd to the runtime (which forwards it to the agent),
/// so notifying them would deadlock.
pub const NOTIFY_FORBIDDEN_SYSCALLS: &[&str] = &["write", "sendmsg", "sendto"];

/// Parses and validates a profile from JSON text of at most [`MAX_PROFILE_BYTES`].
pub fn parse_profile(json: &[u8]) -> Result<LinuxSeccomp, SeccompError> {
    if json.len() > MAX_PROFILE_BYTES {
        return Err(SeccompError::ProfileTooLarge {
            size: json.len(),
            limit: MAX_PROFILE_BYTES,
        });
    }
    let profile: LinuxSeccomp = serde_json::from_slice(json).map_err(SeccompError::ParseProfile)?;
    validate(&profile)?;
    Ok(profile)
}

/// Checks everything about a profile that does not need libseccomp: sizes, errno ranges,
/// argument indices, and the notify rules (listener path, default action, forbidden syscalls).
pub fn validate(profile: &LinuxSeccomp) -> Result<(), SeccompError> {
    let rules = profile.syscalls().as_deref().unwrap_or_default();
    check_counts(profile)?;
    translate::action(
        profile.default_action(),
        profile.default_errno_ret(),
        || "defaultErrnoRet".to_owned(),
    )?;
    if profile.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(SeccompError::NotifyAsDefault);
    }
    let mut notify = false;
    for rule in rules {
        let names = || rule.names().join(",");
        translate::action(rule.action(), rule.errno_ret(), names)?;
        let first = rule.names().first().map(String::as_str).unwrap_or_default();
        for arg in rule.args().as_deref().unwrap_or_default() {
            translate::condition(arg, first)?;
        }
        if rule.action() == LinuxSeccompAction::ScmpActNotify {
            notify = true;
            if let Some(name) = rule
                .names()
                .iter()
                .find(|n| NOTIFY_FORBIDDEN_SYSCALLS.contains(&n.as_str()))
            {
                return Err(SeccompError::NotifyForbidden { name: name.clone() });
            }
        }
    }
    check_listener(profile, notify)
}

fn check_counts(profile: &LinuxSeccomp) -> Result<(), SeccompError> {
    let rules = profile.syscalls().as_deref().unwrap_or_default();
    let too_many = |what, count, limit| {
        if count > limit {
            Err(SeccompError::TooMany { what, count, limit })
        } else {
            Ok(())
        }
    };
    too_many("syscall rules", rules.len(), MAX_RULES)?;
    let names: usize = rules.iter().map(|r| r.names().len()).sum();
    too_many("syscall names", names, MAX_NAMES)?;
    let arches = profile.architectures().as_deref().map_or(0, <[_]>::len);
    too_many("architectures", arches, 64)?;
    let flags = profile.flags().as_deref().map_or(0, <[_]>::len);
    too_many("flags", flags, 64)?;
    let mut expanded = 0usize;
    for rule in rules {
        let args = rule.args().as_deref().unwrap_or_default();
        too_many("conditions in one rule", args.len(), MAX_CONDITIONS)?;
        let split = if has_repeated_index(args) {
            args.len()
        } else {
            1
        };
        expanded = expanded.saturating_add(rule.names().len().saturating_mul(split));
    }
    too_many("expanded rules", expanded, MAX_EXPANDED_RULES)?;
    crate::complexity::check(profile)
}

fn check_listener(profile: &LinuxSeccomp, notify: bool) -> Result<(), SeccompError> {
    if let Some(path) = profile.listener_path()
        && !path.is_absolute()
    {
        return Err(SeccompError::ListenerPathNotAbsolute(path.clone()));
    }
    if notify && profile.listener_path().is_none() {
        return Err(SeccompError::NotifyWithoutListener);
    }
    let flags = profile.flags().as_deref().unwrap_or_default();
    if !notify && flags.contains(&LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv) {
        return Err(SeccompError::FlagNeedsNotify {
            flag: "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        });
    }
    Ok(())
}

/// True when two conditions test the same argument. libseccomp allows one comparison per
/// argument in a rule, so runc turns such an entry into one rule per condition (OR), while
/// distinct indices stay one rule (AND). We keep that meaning.
pub(crate) fn has_repeated_index(args: &[oci_spec::runtime::LinuxSeccompArg]) -> bool {
    let mut seen = HashSet::new();
    args.iter().any(|a| !seen.insert(a.index()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<LinuxSeccomp, SeccompError> {
        parse_profile(json.as_bytes())
    }

    fn message(json: &str) -> String {
        let err = parse(json).unwrap_err();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    }

    #[test]
    fn accepts_a_plain_profile() {
        let p = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                   "args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        assert_eq!(p.syscalls().as_ref().unwrap().len(), 2);
    }

    #[test]
    fn unknown_values_are_named() {
        let m = message(r#"{"defaultAction":"SCMP_ACT_FROB"}"#);
        assert!(m.contains("SCMP_ACT_FROB"), "{m}");
        let m = message(r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}"#);
        assert!(m.contains("SCMP_ARCH_Z80"), "{m}");
        let m = message(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],
                "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_LIKE"}]}]}"#,
        );
        assert!(m.contains("SCMP_CMP_LIKE"), "{m}");
        let m = message(r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_X"]}"#);
        assert!(m.contains("SECCOMP_FILTER_FLAG_X"), "{m}");
    }

    #[test]
    fn bounds_are_enforced() {
        let big = vec![b' '; MAX_PROFILE_BYTES + 1];
        assert!(matches!(
            parse_profile(&big),
            Err(SeccompError::ProfileTooLarge { .. })
        ));
        let args: Vec<String> = (0..17)
            .map(|v| format!(r#"{{"index":0,"value":{v},"op":"SCMP_CMP_EQ"}}"#))
            .collect();
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["read"],
                "action":"SCMP_ACT_ERRNO","args":[{}]}}]}}"#,
            args.join(",")
        );
        assert_eq!(
            message(&json),
            "seccomp profile has 17 conditions in one rule, the limit is 16"
        );
    }

    #[test]
    fn bad_errno_and_index_are_refused() {
        let m = message(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#);
        assert_eq!(
            m,
            "errnoRet 70000 of defaultErrnoRet is out of range 0..=4095"
        );
        let m = message(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a","b"],
                "action":"SCMP_ACT_ERRNO","errnoRet":5000}]}"#,
        );
        assert_eq!(m, "errnoRet 5000 of a,b is out of range 0..=4095");
        let m = message(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],
                "action":"SCMP_ACT_ERRNO","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        assert_eq!(m, "argument index 9 of syscall read is out of range 0..=5");
    }

    #[test]
    fn notify_rules() {
        let m = message(r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/run/a.sock"}"#);
        assert_eq!(m, "SCMP_ACT_NOTIFY cannot be the default action");
        let notify = |names: &str, extra: &str| {
            format!(
                r#"{{"defaultAction":"SCMP_ACT_ALLOW"{extra},
                    "syscalls":[{{"names":[{names}],"action":"SCMP_ACT_NOTIFY"}}]}}"#
            )
        };
        let m = message(&notify(r#""mkdir""#, ""));
        assert_eq!(m, "SCMP_ACT_NOTIFY is used but listenerPath is not set");
        let m = message(&notify(r#""mkdir""#, r#","listenerPath":"run/a.sock""#));
        assert_eq!(m, "listenerPath run/a.sock is not an absolute path");
        let m = message(&notify(
            r#""mkdir","write""#,
            r#","listenerPath":"/run/a.sock""#,
        ));
        assert!(
            m.starts_with("SCMP_ACT_NOTIFY cannot be used for write"),
            "{m}"
        );
        assert!(parse(&notify(r#""mkdir""#, r#","listenerPath":"/run/a.sock""#)).is_ok());
        let m = message(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
        );
        assert_eq!(
            m,
            "flag SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV requires an SCMP_ACT_NOTIFY rule"
        );
    }
}
