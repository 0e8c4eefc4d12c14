// SPDX-License-Identifier: Apache-2.0
//! A small argv scanner (the binary carries no argument-parsing framework: less code to
//! map means a lower peak RSS per container start). Each subcommand declares its flags;
//! global flags are accepted anywhere; flags may come before or after positionals, as with
//! runc; `--flag value`, `--flag=value` and `-f value` forms; `--` ends flags. Commands with
//! a trailing command line (`exec ID CMD...`, `ps ID PSARGS...`) stop at their last
//! positional.

use std::collections::HashMap;

/// A flag a command accepts: long name, optional short letter, takes a value.
#[derive(Debug, Clone, Copy)]
pub struct Flag(pub &'static str, pub Option<char>, pub bool);

/// Flags accepted by every command.
pub const GLOBAL: &[Flag] = &[
    Flag("root", None, true),
    Flag("log", None, true),
    Flag("log-format", None, true),
    Flag("systemd-cgroup", None, false),
    Flag("debug", None, false),
];

/// Errors of the command line.
#[derive(Debug, thiserror::Error)]
pub enum ArgError {
    /// Flag not known to the command.
    #[error("{cmd}: unknown flag {flag}")]
    Unknown {
        /// Command.
        cmd: String,
        /// Flag as written.
        flag: String,
    },
    /// A flag needing a value came last.
    #[error("{cmd}: flag --{flag} needs a value")]
    MissingValue {
        /// Command.
        cmd: String,
        /// Flag.
        flag: String,
    },
    /// Wrong number of positional arguments.
    #[error("{cmd}: {what}")]
    Usage {
        /// Command.
        cmd: String,
        /// What is wrong.
        what: String,
    },
    /// A value does not parse.
    #[error("{cmd}: --{flag} {value:?}: {why}")]
    Value {
        /// Command.
        cmd: String,
        /// Flag.
        flag: String,
        /// Value given.
        value: String,
        /// Expected form.
        why: &'static str,
    },
}

/// What was found on the command line for one command.
#[derive(Debug, Default)]
pub struct Matches {
    /// Command name.
    pub cmd: String,
    values: HashMap<&'static str, Vec<String>>,
    /// Positional arguments (the trailing command line included for `trailing` commands).
    pub positionals: Vec<String>,
}

impl Matches {
    /// Whether a boolean flag was given.
    pub fn on(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The last value of a flag.
    pub fn value(&self, name: &str) -> Option<String> {
        self.values.get(name).and_then(|v| v.last().cloned())
    }

    /// Every value of a repeatable flag.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// A parsed value, `default` when absent.
    pub fn parsed<T: std::str::FromStr>(
        &self,
        name: &str,
        default: T,
        why: &'static str,
    ) -> Result<T, ArgError> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ArgError::Value {
                cmd: self.cmd.clone(),
                flag: name.to_string(),
                value: v,
                why,
            }),
        }
    }

    /// An optional parsed value.
    pub fn opt<T: std::str::FromStr>(
        &self,
        name: &str,
        why: &'static str,
    ) -> Result<Option<T>, ArgError> {
        self.value(name)
            .map(|v| self.parse_one(name, v, why))
            .transpose()
    }

    fn parse_one<T: std::str::FromStr>(
        &self,
        name: &str,
        v: String,
        why: &'static str,
    ) -> Result<T, ArgError> {
        v.parse().map_err(|_| ArgError::Value {
            cmd: self.cmd.clone(),
            flag: name.to_string(),
            value: v,
            why,
        })
    }

    /// Exactly the positional at `i`, named `what` in errors.
    pub fn positional(&self, i: usize, what: &str) -> Result<String, ArgError> {
        self.positionals
            .get(i)
            .cloned()
            .ok_or_else(|| ArgError::Usage {
                cmd: self.cmd.clone(),
                what: format!("missing {what}"),
            })
    }
}

fn find<'a>(flags: &'a [Flag], name: &str) -> Option<&'a Flag> {
    flags.iter().chain(GLOBAL).find(|f| f.0 == name)
}

fn find_short(flags: &[Flag], c: char) -> Option<&Flag> {
    flags.iter().chain(GLOBAL).find(|f| f.1 == Some(c))
}

/// Scans `args` (after the command name) for command `cmd` with `flags`; with
/// `trailing = Some(n)`, everything from the positional after the n-th on is kept verbatim.
pub fn scan(
    cmd: &str,
    args: &[String],
    flags: &[Flag],
    trailing: Option<usize>,
    pre: Matches,
) -> Result<Matches, ArgError> {
    let mut m = Matches {
        cmd: cmd.to_string(),
        ..pre
    };
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        if trailing.is_some_and(|n| m.positionals.len() >= n) {
            m.positionals.push(a.clone());
            m.positionals.extend(it.cloned());
            break;
        }
        if a == "--" {
            m.positionals.extend(it.cloned());
            break;
        }
        let (flag, inline) = if let Some(long) = a.strip_prefix("--") {
            let (name, val) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            (find(flags, name), val)
        } else if let Some(short) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let c = chars.next().unwrap_or('-');
            let rest: String = chars.collect();
            let val = (!rest.is_empty()).then(|| rest.trim_start_matches('=').to_string());
            (find_short(flags, c), val)
        } else {
            m.positionals.push(a.clone());
            continue;
        };
        let Some(f) = flag else {
            return Err(ArgError::Unknown {
                cmd: cmd.to_string(),
                flag: a.clone(),
            });
        };
        let value = if f.2 {
            match inline.or_else(|| it.next().cloned()) {
                Some(v) => v,
                None => {
                    return Err(ArgError::MissingValue {
                        cmd: cmd.to_string(),
                        flag: f.0.into(),
                    });
                }
            }
        } else {
            String::new()
        };
        m.values.entry(f.0).or_default().push(value);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(ToString::to_string).collect()
    }

    const F: &[Flag] = &[
        Flag("bundle", Some('b'), true),
        Flag("detach", Some('d'), false),
    ];

    #[test]
    fn test_flags_before_and_after_positionals() {
        let m = scan(
            "run",
            &v(&["-b", "/x", "id1", "--detach", "--root=/r"]),
            F,
            None,
            Matches::default(),
        )
        .unwrap();
        assert_eq!(m.value("bundle").as_deref(), Some("/x"));
        assert!(m.on("detach"));
        assert_eq!(m.value("root").as_deref(), Some("/r"));
        assert_eq!(m.positionals, ["id1"]);
        let m = scan("run", &v(&["id1", "-b/y"]), F, None, Matches::default()).unwrap();
        assert_eq!(m.value("bundle").as_deref(), Some("/y"));
    }

    #[test]
    fn test_trailing_command_line_kept_verbatim() {
        let m = scan(
            "exec",
            &v(&["-d", "c1", "sh", "-c", "echo -b"]),
            F,
            Some(1),
            Matches::default(),
        )
        .unwrap();
        assert_eq!(m.positionals, ["c1", "sh", "-c", "echo -b"]);
        assert!(m.on("detach"));
    }

    #[test]
    fn test_errors_name_command_and_flag() {
        let e = scan("run", &v(&["--nope"]), F, None, Matches::default()).unwrap_err();
        assert_eq!(e.to_string(), "run: unknown flag --nope");
        let e = scan("run", &v(&["id", "--bundle"]), F, None, Matches::default()).unwrap_err();
        assert_eq!(e.to_string(), "run: flag --bundle needs a value");
    }
}
