// SPDX-License-Identifier: Apache-2.0
//! The container environment, by Apptainer's rules:
//! * the host environment passes through, except `HOME`, `PATH`, `LD_LIBRARY_PATH` and the
//!   launcher's own settings (`STOCKADE_*`, `APPTAINER_*`, `SINGULARITY_*`); with
//!   `--cleanenv` only `TERM` and the proxy variables pass (plus `LANG=C`);
//! * `STOCKADEENV_K`, `APPTAINERENV_K`, `SINGULARITYENV_K` (that precedence), then
//!   `--env-file` and `--env K=V` set `K` *after* the image's `/.singularity.d/env/*.sh` ran,
//!   so they win over the image; `PATH`, `PREPEND_PATH`, `APPEND_PATH` become the
//!   `SING_USER_DEFINED_*` variables the image's `99-runtimevars.sh` (or our action) applies;
//! * `HOME` is the container home, `PATH` the default path, and `SINGULARITY_CONTAINER`,
//!   `SINGULARITY_NAME` (and the `APPTAINER_`/`STOCKADE_` twins) name the image.
//!
//! The action (run/exec/shell/test) is our own `/bin/sh` script, like Apptainer's built-in
//! actions: it sources the image's environment scripts, re-applies the overrides, then
//! starts the runscript, the command, a shell or the test.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};

use super::Action;

/// `PATH` inside the container before the image's scripts run.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Prompt inside (the image's scripts or `*ENV_PS1` may change it).
pub const DEFAULT_PS1: &str = "Stockade> ";
/// Prefixes of variables forwarded into the container, lowest precedence first.
pub const ENV_PREFIXES: [&str; 3] = ["SINGULARITYENV_", "APPTAINERENV_", "STOCKADEENV_"];
/// Prefixes of the launcher's own settings, never forwarded.
pub const SETTING_PREFIXES: [&str; 3] = ["SINGULARITY_", "APPTAINER_", "STOCKADE_"];
/// Upper bound on an `--env-file`.
pub const MAX_ENV_FILE: u64 = 1 << 20;

const ALWAYS_PASS: [&str; 11] = [
    "TERM",
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "ftp_proxy",
    "FTP_PROXY",
];
const ALWAYS_OMIT: [&str; 3] = ["HOME", "PATH", "LD_LIBRARY_PATH"];
/// Keys a prefixed variable may not set.
const NOT_OVERRIDABLE: [&str; 1] = ["HOME"];

/// What the environment is built from.
#[derive(Debug, Clone)]
pub struct EnvInput<'a> {
    /// The host environment (UTF-8 entries only).
    pub host: Vec<(String, String)>,
    /// `--cleanenv`.
    pub cleanenv: bool,
    /// `--env-file` content.
    pub env_file: Option<&'a str>,
    /// `--env K=V` values.
    pub env_flags: &'a [String],
    /// The container home.
    pub home: &'a Path,
    /// Absolute image path.
    pub image: &'a Path,
}

/// The process environment and the assignments re-applied after the image's scripts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerEnv {
    /// `K=V` entries for the process.
    pub env: Vec<String>,
    /// Overrides (shell-identifier keys), applied after `/.singularity.d/env/*.sh`.
    pub overrides: Vec<(String, String)>,
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && !k.contains(['=', '\0'])
}

fn shell_ident(k: &str) -> bool {
    let mut b = k.bytes();
    b.next()
        .is_some_and(|c| c == b'_' || c.is_ascii_alphabetic())
        && b.all(|c| c == b'_' || c.is_ascii_alphanumeric())
}

/// Builds the environment.
pub fn build(i: &EnvInput<'_>) -> Result<ContainerEnv> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut over: BTreeMap<String, String> = BTreeMap::new();
    if i.cleanenv {
        env.insert("LANG".into(), "C".into());
    }
    let mut prefixed: Vec<(usize, String, String)> = Vec::new();
    for (k, v) in &i.host {
        if let Some((rank, key)) = ENV_PREFIXES
            .iter()
            .enumerate()
            .find_map(|(n, p)| k.strip_prefix(p).map(|key| (n, key)))
        {
            prefixed.push((rank, key.to_string(), v.clone()));
        } else if SETTING_PREFIXES.iter().any(|p| k.starts_with(p)) || !valid_key(k) {
            continue;
        } else if ALWAYS_PASS.contains(&k.as_str())
            || (!i.cleanenv && !ALWAYS_OMIT.contains(&k.as_str()))
        {
            env.insert(k.clone(), v.clone());
        }
    }
    prefixed.sort_by_key(|(rank, _, _)| *rank);
    let mut user_set = |key: &str, val: &str, from: &str| -> Result<()> {
        if !valid_key(key) || val.contains('\0') {
            bail!("{from}: invalid variable {key:?}");
        }
        match key {
            "PATH" => set_path(&mut env, "SING_USER_DEFINED_PATH", val),
            "PREPEND_PATH" => set_path(&mut env, "SING_USER_DEFINED_PREPEND_PATH", val),
            "APPEND_PATH" => set_path(&mut env, "SING_USER_DEFINED_APPEND_PATH", val),
            k if NOT_OVERRIDABLE.contains(&k) => {
                tracing::warn!("overriding {k} with {from} is not permitted");
            }
            k => {
                env.remove(k);
                over.insert(k.to_string(), val.to_string());
            }
        }
        Ok(())
    };
    for (rank, key, val) in &prefixed {
        user_set(key, val, &format!("{}{key}", ENV_PREFIXES[*rank]))?;
    }
    if let Some(text) = i.env_file {
        for (k, v) in parse_env_file(text)? {
            user_set(&k, &v, "--env-file")?;
        }
    }
    for kv in i.env_flags {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--env {kv:?}: expected KEY=VALUE")
        };
        user_set(k.trim(), v, "--env")?;
    }
    env.insert("HOME".into(), i.home.display().to_string());
    env.insert("PATH".into(), DEFAULT_PATH.into());
    // the host prompt describes the host; the image's scripts or an override may set another
    env.insert("PS1".into(), DEFAULT_PS1.into());
    let image = i.image.display().to_string();
    let name = i
        .image
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for p in SETTING_PREFIXES {
        env.insert(format!("{p}CONTAINER"), image.clone());
        env.insert(format!("{p}NAME"), name.clone());
    }
    // keys a shell cannot assign go straight into the environment
    let (overrides, direct): (Vec<_>, Vec<_>) = over.into_iter().partition(|(k, _)| shell_ident(k));
    env.extend(direct);
    Ok(ContainerEnv {
        env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        overrides,
    })
}

fn set_path(env: &mut BTreeMap<String, String>, key: &str, val: &str) {
    env.insert(key.into(), val.into());
}

/// Parses an `--env-file`: `KEY=VALUE` lines, optional `export `, `#` comments, values
/// optionally in matching single or double quotes.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((k, v)) = line.split_once('=') else {
            bail!("--env-file line {}: expected KEY=VALUE", n + 1);
        };
        let v = v.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| v.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)))
            .unwrap_or(v);
        out.push((k.trim().to_string(), unquoted.to_string()));
    }
    Ok(out)
}

/// Single-quotes `s` for `/bin/sh`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

const SOURCE_ENV: &str = "for __stockade_env in /.singularity.d/env/*.sh; do\n\
    if [ -f \"$__stockade_env\" ]; then . \"$__stockade_env\"; fi\ndone\nunset __stockade_env\n";

const USER_PATH: &str = "if [ -n \"${SING_USER_DEFINED_PREPEND_PATH:-}\" ]; then PATH=\"$SING_USER_DEFINED_PREPEND_PATH:$PATH\"; fi\n\
    if [ -n \"${SING_USER_DEFINED_APPEND_PATH:-}\" ]; then PATH=\"$PATH:$SING_USER_DEFINED_APPEND_PATH\"; fi\n\
    if [ -n \"${SING_USER_DEFINED_PATH:-}\" ]; then PATH=\"$SING_USER_DEFINED_PATH\"; fi\n\
    unset SING_USER_DEFINED_PREPEND_PATH SING_USER_DEFINED_APPEND_PATH SING_USER_DEFINED_PATH\nexport PATH\n";

/// The `/bin/sh -c` script of an action (`$@` holds the user's arguments).
pub fn action_script(action: Action, overrides: &[(String, String)]) -> String {
    let mut s = String::from(SOURCE_ENV);
    for (k, v) in overrides {
        s.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    s.push_str(USER_PATH);
    s.push_str(match action {
        Action::Exec => "exec \"$@\"\n",
        Action::Run => {
            "if [ -x /.singularity.d/runscript ]; then exec /.singularity.d/runscript \"$@\"; fi\n\
             echo 'No runscript found in container, executing /bin/sh' >&2\nexec /bin/sh \"$@\"\n"
        }
        Action::Shell => {
            "if [ -x /bin/bash ]; then SHELL=/bin/bash; export SHELL; exec /bin/bash --norc \"$@\"; fi\n\
             SHELL=/bin/sh; export SHELL; exec /bin/sh \"$@\"\n"
        }
        Action::Test => {
            "if [ -x /.singularity.d/test ]; then exec /.singularity.d/test \"$@\"; fi\n\
             echo 'No test found in container, executing /bin/sh -c true' >&2\nexec /bin/sh -c true\n"
        }
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(host: &[(&str, &str)], flags: &'a [String]) -> EnvInput<'a> {
        EnvInput {
            host: host
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            cleanenv: false,
            env_file: None,
            env_flags: flags,
            home: Path::new("/home/u"),
            image: Path::new("/img/x.sif"),
        }
    }

    fn get<'a>(e: &'a ContainerEnv, k: &str) -> Option<&'a str> {
        e.env
            .iter()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
    }

    #[test]
    fn test_host_passthrough_and_omissions() {
        let e = build(&input(
            &[
                ("FOO", "1"),
                ("PATH", "/evil"),
                ("HOME", "/h"),
                ("APPTAINER_BIND", "/x"),
                ("LD_LIBRARY_PATH", "/l"),
            ],
            &[],
        ))
        .unwrap();
        assert_eq!(get(&e, "FOO"), Some("1"));
        assert_eq!(get(&e, "PATH"), Some(DEFAULT_PATH));
        assert_eq!(get(&e, "HOME"), Some("/home/u"));
        assert_eq!(get(&e, "APPTAINER_BIND"), None);
        assert_eq!(get(&e, "LD_LIBRARY_PATH"), None);
        assert_eq!(get(&e, "SINGULARITY_NAME"), Some("x.sif"));
        assert_eq!(get(&e, "APPTAINER_CONTAINER"), Some("/img/x.sif"));
    }

    #[test]
    fn test_cleanenv_keeps_term_only() {
        let mut i = input(&[("FOO", "1"), ("TERM", "xterm")], &[]);
        i.cleanenv = true;
        let e = build(&i).unwrap();
        assert_eq!(get(&e, "FOO"), None);
        assert_eq!(get(&e, "TERM"), Some("xterm"));
        assert_eq!(get(&e, "LANG"), Some("C"));
    }

    #[test]
    fn test_prefixes_and_flags_override_in_order() {
        let flags = ["B=flag".to_string()];
        let e = build(&input(
            &[
                ("A", "host"),
                ("SINGULARITYENV_A", "sing"),
                ("APPTAINERENV_A", "app"),
                ("SINGULARITYENV_B", "sing"),
                ("STOCKADEENV_PATH", "/p"),
                ("APPTAINERENV_HOME", "/nope"),
            ],
            &flags,
        ))
        .unwrap();
        assert_eq!(
            get(&e, "A"),
            None,
            "overridden keys are set after the image scripts"
        );
        assert_eq!(
            e.overrides,
            vec![("A".into(), "app".into()), ("B".into(), "flag".into())]
        );
        assert_eq!(get(&e, "SING_USER_DEFINED_PATH"), Some("/p"));
        assert_eq!(get(&e, "HOME"), Some("/home/u"));
    }

    #[test]
    fn test_env_file_and_quoting() {
        let v = parse_env_file("# c\nexport A='x y'\nB=\"q\"\n\nC=plain=1\n").unwrap();
        assert_eq!(v[0], ("A".into(), "x y".into()));
        assert_eq!(v[1].1, "q");
        assert_eq!(v[2].1, "plain=1");
        assert!(parse_env_file("nokey\n").is_err());
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        let s = action_script(Action::Exec, &[("A".into(), "a'b".into())]);
        assert!(s.contains("export A='a'\\''b'\n") && s.ends_with("exec \"$@\"\n"));
    }
}
