// SPDX-License-Identifier: Apache-2.0
//! What an OCI image config becomes in `/.singularity.d`: `Env` → `env/10-docker2singularity.sh`
//! (image values are defaults the host environment may override, except `PATH`), and
//! `Entrypoint`/`Cmd` → a runscript with Apptainer's semantics (arguments replace `Cmd`, are
//! appended to `Entrypoint`; evaluated through the shell unless `APPTAINER_NO_EVAL` is set).

use crate::image::RunConfig;

/// Escapes `s` for the inside of a double-quoted shell word.
pub fn escape_dq(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '"' | '`' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `'…'` with embedded single quotes closed, escaped and reopened.
pub fn single_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r#"'"'"'"#))
}

fn valid_name(k: &str) -> bool {
    let mut c = k.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// `env/10-docker2singularity.sh` for the image environment. Entries whose name is not a
/// shell identifier are left out (reported in the returned list).
pub fn env_script(cfg: &RunConfig) -> (String, Vec<String>) {
    let mut s = String::from("#!/bin/sh\n");
    let mut skipped = Vec::new();
    for e in cfg.env.iter().flatten() {
        let (k, v) = match e.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (e.as_str(), None),
        };
        if !valid_name(k) {
            skipped.push(k.to_string());
            continue;
        }
        match v {
            None => s.push_str(&format!("export {k}=\"${{{k}:-}}\"\n")),
            Some(v) if k == "PATH" => s.push_str(&format!("export PATH=\"{}\"\n", escape_dq(v))),
            Some(v) => s.push_str(&format!("export {k}=\"${{{k}:-\"{}\"}}\"\n", escape_dq(v))),
        }
    }
    (s, skipped)
}

/// The argv as one string of double-quoted words (what the runscript evaluates).
fn quoted_words(args: &[String]) -> String {
    args.iter()
        .map(|a| format!("\"{}\"", escape_dq(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `set -- 'a' 'b' "$@"` lines prepending `args` to the positional parameters.
fn prepend(args: &[String]) -> String {
    args.iter()
        .rev()
        .map(|a| format!("set -- {} \"$@\"\n", single_quote(a)))
        .collect()
}

/// The runscript of an OCI image.
pub fn runscript(cfg: &RunConfig) -> String {
    let ep = cfg.entrypoint.clone().unwrap_or_default();
    let cmd = cfg.cmd.clone().unwrap_or_default();
    let mut s = String::from("#!/bin/sh\n");
    s.push_str(&format!(
        "OCI_ENTRYPOINT={}\n",
        single_quote(&quoted_words(&ep))
    ));
    s.push_str(&format!("OCI_CMD={}\n", single_quote(&quoted_words(&cmd))));
    s.push_str(&format!(
        r#"
# APPTAINER_NO_EVAL (or SINGULARITY_NO_EVAL): run ENTRYPOINT/CMD/arguments as given, like
# an OCI runtime, without evaluating them through the shell.
if [ -n "${{APPTAINER_NO_EVAL:-${{SINGULARITY_NO_EVAL:-}}}}" ]; then
    if [ $# -eq 0 ]; then
{cmd_set}    fi
{ep_set}    exec "$@"
fi

# Default (Apptainer's): arguments replace CMD and follow ENTRYPOINT; the words, each
# double-quoted with \ " ` $ escaped, are evaluated by the shell and executed.
CMDLINE_ARGS=""
for arg in "$@"; do
    CMDLINE_ARGS="${{CMDLINE_ARGS}} \"$arg\""
done
if [ $# -gt 0 ]; then
    OCI_RUN="${{OCI_ENTRYPOINT}} ${{CMDLINE_ARGS}}"
else
    OCI_RUN="${{OCI_ENTRYPOINT}} ${{OCI_CMD}}"
fi
eval "set -- ${{OCI_RUN}}"
exec "$@"
"#,
        cmd_set = indent(&prepend(&cmd), 8),
        ep_set = indent(&prepend(&ep), 4),
    ));
    s
}

fn indent(s: &str, n: usize) -> String {
    s.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(ep: &[&str], cmd: &[&str]) -> RunConfig {
        let v = |a: &[&str]| (!a.is_empty()).then(|| a.iter().map(|s| s.to_string()).collect());
        RunConfig {
            entrypoint: v(ep),
            cmd: v(cmd),
            ..Default::default()
        }
    }

    /// Runs the generated runscript with `sh`, replacing `exec` by printing the argv.
    fn argv(c: &RunConfig, args: &[&str], no_eval: bool) -> String {
        let script = runscript(c).replace("exec \"$@\"", "printf '[%s]' \"$@\"; exit 0");
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(&script).arg("runscript").args(args);
        cmd.env_remove("APPTAINER_NO_EVAL")
            .env_remove("SINGULARITY_NO_EVAL");
        if no_eval {
            cmd.env("APPTAINER_NO_EVAL", "1");
        }
        String::from_utf8(cmd.output().expect("sh runs").stdout).expect("utf8")
    }

    #[test]
    fn entrypoint_and_cmd_semantics() {
        let c = cfg(&["/bin/echo", "it's"], &["a b", "$HOME"]);
        assert_eq!(argv(&c, &[], true), "[/bin/echo][it's][a b][$HOME]");
        assert_eq!(argv(&c, &["x y"], true), "[/bin/echo][it's][x y]");
        assert_eq!(
            argv(&cfg(&[], &["sh", "-c", "echo"]), &["ls"], true),
            "[ls]"
        );
        assert_eq!(argv(&c, &["x y"], false), "[/bin/echo][it's][x y]");
        // Image words are quoted before the eval: `$HOME` stays literal, as in Apptainer.
        assert_eq!(argv(&c, &[], false), "[/bin/echo][it's][a b][$HOME]");
        // ...but the caller's arguments are evaluated (Apptainer's documented behaviour);
        // APPTAINER_NO_EVAL keeps them literal.
        assert_eq!(argv(&c, &["$((1+2))"], false), "[/bin/echo][it's][3]");
        assert_eq!(argv(&c, &["$((1+2))"], true), "[/bin/echo][it's][$((1+2))]");
    }

    #[test]
    fn env_defaults_and_path() {
        let c = RunConfig {
            env: Some(vec![
                "PATH=/a:/b".into(),
                "LANG=C.UTF-8".into(),
                "Q=\"$x\"".into(),
                "EMPTY".into(),
                "BAD-NAME=1".into(),
            ]),
            ..Default::default()
        };
        let (s, skipped) = env_script(&c);
        assert_eq!(skipped, vec!["BAD-NAME"]);
        assert_eq!(
            s,
            "#!/bin/sh\nexport PATH=\"/a:/b\"\nexport LANG=\"${LANG:-\"C.UTF-8\"}\"\nexport Q=\"${Q:-\"\\\"\\$x\\\"\"}\"\nexport EMPTY=\"${EMPTY:-}\"\n"
        );
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("{s}\nprintf '%s|%s|%s' \"$PATH\" \"$LANG\" \"$Q\""))
            .env("LANG", "fr")
            .output()
            .expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "/a:/b|fr|\"$x\"");
    }
}
