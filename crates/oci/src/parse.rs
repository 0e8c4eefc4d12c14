// SPDX-License-Identifier: Apache-2.0
//! argv → [`Cli`]: the flags of each subcommand (runc's names and short forms).

use std::path::PathBuf;

use crate::args::{ArgError, Flag, GLOBAL, Matches, scan};
use crate::cli::*;

/// The outcome of parsing.
#[derive(Debug)]
pub enum Parsed {
    /// Run a command.
    Run(Box<Cli>),
    /// Print this text and exit 0.
    Help(String),
    /// Print the version and exit 0.
    Version,
}

const CREATE: &[Flag] = &[
    Flag("bundle", Some('b'), true),
    Flag("pid-file", None, true),
    Flag("console-socket", None, true),
    Flag("no-pivot", None, false),
    Flag("no-new-keyring", None, false),
    Flag("preserve-fds", None, true),
];
const RUN_EXTRA: &[Flag] = &[Flag("detach", Some('d'), false), Flag("keep", None, false)];
const EXEC: &[Flag] = &[
    Flag("process", Some('p'), true),
    Flag("tty", Some('t'), false),
    Flag("detach", Some('d'), false),
    Flag("pid-file", None, true),
    Flag("console-socket", None, true),
    Flag("cwd", None, true),
    Flag("env", Some('e'), true),
    Flag("user", Some('u'), true),
    Flag("additional-gids", Some('g'), true),
    Flag("cap", Some('c'), true),
    Flag("no-new-privs", None, false),
    Flag("preserve-fds", None, true),
    Flag("process-label", None, true),
    Flag("apparmor", None, true),
    Flag("ignore-paused", None, false),
    Flag("cgroup", None, true),
];
const UPDATE: &[Flag] = &[
    Flag("resources", Some('r'), true),
    Flag("memory", None, true),
    Flag("memory-swap", None, true),
    Flag("memory-reservation", None, true),
    Flag("cpu-quota", None, true),
    Flag("cpu-period", None, true),
    Flag("cpu-shares", None, true),
    Flag("cpuset-cpus", None, true),
    Flag("cpuset-mems", None, true),
    Flag("pids-limit", None, true),
];

/// Short help text.
pub const USAGE: &str = "usage: stockade-oci [--root DIR] [--log FILE] [--log-format text|json] \
[--systemd-cgroup] [--debug] COMMAND [OPTIONS] ID\n\ncommands: create start run state kill delete \
exec ps list pause resume update events features spec\n";

fn is_help(a: &str) -> bool {
    a == "--help" || a == "-h" || a == "help"
}

/// Parses argv (without the program name).
pub fn parse(argv: &[String]) -> Result<Parsed, ArgError> {
    let mut pre = Vec::new();
    let mut i = 0;
    while i < argv.len() && argv[i].starts_with('-') {
        let a = &argv[i];
        if a == "--version" || a == "-v" {
            return Ok(Parsed::Version);
        }
        if is_help(a) {
            return Ok(Parsed::Help(USAGE.into()));
        }
        pre.push(a.clone());
        let name = a.trim_start_matches('-');
        if !a.contains('=') && GLOBAL.iter().any(|f| f.0 == name && f.2) && i + 1 < argv.len() {
            i += 1;
            pre.push(argv[i].clone());
        }
        i += 1;
    }
    let Some(cmd) = argv.get(i) else {
        return Ok(Parsed::Help(USAGE.into()));
    };
    let mut rest = pre;
    rest.extend_from_slice(&argv[i + 1..]);
    let trailing_cmd = matches!(cmd.as_str(), "exec" | "ps");
    if rest
        .iter()
        .take_while(|a| !trailing_cmd || a.starts_with('-'))
        .any(|a| is_help(a))
    {
        return Ok(Parsed::Help(USAGE.into()));
    }
    let (flags, trailing): (Vec<Flag>, Option<usize>) = match cmd.as_str() {
        "create" => (CREATE.to_vec(), None),
        "run" => ([CREATE, RUN_EXTRA].concat(), None),
        "kill" => (vec![Flag("all", Some('a'), false)], None),
        "delete" => (vec![Flag("force", Some('f'), false)], None),
        "exec" => (EXEC.to_vec(), Some(1)),
        "ps" => (vec![Flag("format", Some('f'), true)], Some(1)),
        "list" => (
            vec![
                Flag("format", Some('f'), true),
                Flag("quiet", Some('q'), false),
            ],
            None,
        ),
        "update" => (UPDATE.to_vec(), None),
        "events" => (
            vec![Flag("stats", None, false), Flag("interval", None, true)],
            None,
        ),
        "spec" => (
            vec![
                Flag("rootless", None, false),
                Flag("bundle", Some('b'), true),
            ],
            None,
        ),
        "start" | "state" | "pause" | "resume" | "features" => (Vec::new(), None),
        other => {
            return Err(ArgError::Usage {
                cmd: other.into(),
                what: "unknown command".into(),
            });
        }
    };
    let m = scan(cmd, &rest, &flags, trailing, Matches::default())?;
    Ok(Parsed::Run(Box::new(cli(m)?)))
}

fn path(m: &Matches, name: &str) -> Option<PathBuf> {
    m.value(name).map(PathBuf::from)
}

fn format(m: &Matches) -> Result<Format, ArgError> {
    match m.value("format").as_deref() {
        None | Some("table") => Ok(Format::Table),
        Some("json") => Ok(Format::Json),
        Some(v) => Err(ArgError::Value {
            cmd: m.cmd.clone(),
            flag: "format".into(),
            value: v.into(),
            why: "table or json",
        }),
    }
}

fn create_args(m: &Matches) -> Result<CreateArgs, ArgError> {
    Ok(CreateArgs {
        id: m.positional(0, "container id")?,
        bundle: path(m, "bundle").unwrap_or_else(|| PathBuf::from(".")),
        pid_file: path(m, "pid-file"),
        console_socket: path(m, "console-socket"),
        no_pivot: m.on("no-pivot"),
        preserve_fds: m.parsed("preserve-fds", 0, "a number")?,
    })
}

fn id(m: &Matches) -> Result<IdArg, ArgError> {
    Ok(IdArg {
        id: m.positional(0, "container id")?,
    })
}

fn cmd(m: &Matches) -> Result<Cmd, ArgError> {
    Ok(match m.cmd.as_str() {
        "create" => Cmd::Create(create_args(m)?),
        "run" => Cmd::Run(RunArgs {
            create: create_args(m)?,
            detach: m.on("detach"),
        }),
        "start" => Cmd::Start(id(m)?),
        "state" => Cmd::State(id(m)?),
        "pause" => Cmd::Pause(id(m)?),
        "resume" => Cmd::Resume(id(m)?),
        "features" => Cmd::Features,
        "kill" => Cmd::Kill(KillArgs {
            id: m.positional(0, "container id")?,
            signal: m
                .positionals
                .get(1)
                .cloned()
                .unwrap_or_else(|| "SIGTERM".into()),
            all: m.on("all"),
        }),
        "delete" => Cmd::Delete(DeleteArgs {
            id: m.positional(0, "container id")?,
            force: m.on("force"),
        }),
        "exec" => Cmd::Exec(exec_args(m)?),
        "ps" => Cmd::Ps(PsArgs {
            id: m.positional(0, "container id")?,
            format: format(m)?,
            ps_args: m.positionals[1..].to_vec(),
        }),
        "list" => Cmd::List(ListArgs {
            format: format(m)?,
            quiet: m.on("quiet"),
        }),
        "update" => Cmd::Update(update_args(m)?),
        "events" => Cmd::Events(EventsArgs {
            id: m.positional(0, "container id")?,
            stats: m.on("stats"),
            interval: m.value("interval").unwrap_or_else(|| "5s".into()),
        }),
        _ => Cmd::Spec(SpecArgs {
            rootless: m.on("rootless"),
            bundle: path(m, "bundle").unwrap_or_else(|| PathBuf::from(".")),
        }),
    })
}

fn exec_args(m: &Matches) -> Result<ExecArgs, ArgError> {
    let raw = m.all("additional-gids");
    let gids = raw.iter().map(|g| {
        g.parse().map_err(|_| ArgError::Value {
            cmd: m.cmd.clone(),
            flag: "additional-gids".into(),
            value: g.clone(),
            why: "a gid",
        })
    });
    Ok(ExecArgs {
        id: m.positional(0, "container id")?,
        args: m.positionals[1..].to_vec(),
        process: path(m, "process"),
        tty: m.on("tty"),
        detach: m.on("detach"),
        pid_file: path(m, "pid-file"),
        console_socket: path(m, "console-socket"),
        cwd: path(m, "cwd"),
        env: m.all("env"),
        user: m.value("user"),
        additional_gids: gids.collect::<Result<_, _>>()?,
        cap: m.all("cap"),
        no_new_privs: m.on("no-new-privs"),
        preserve_fds: m.parsed("preserve-fds", 0, "a number")?,
    })
}

fn update_args(m: &Matches) -> Result<UpdateArgs, ArgError> {
    Ok(UpdateArgs {
        id: m.positional(0, "container id")?,
        resources: path(m, "resources"),
        memory: m.value("memory"),
        memory_swap: m.value("memory-swap"),
        memory_reservation: m.value("memory-reservation"),
        cpu_quota: m.opt("cpu-quota", "microseconds")?,
        cpu_period: m.opt("cpu-period", "microseconds")?,
        cpu_shares: m.opt("cpu-shares", "a number")?,
        cpuset_cpus: m.value("cpuset-cpus"),
        cpuset_mems: m.value("cpuset-mems"),
        pids_limit: m.opt("pids-limit", "a number")?,
    })
}

fn cli(m: Matches) -> Result<Cli, ArgError> {
    let log_format = match m.value("log-format").as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(v) => {
            return Err(ArgError::Value {
                cmd: m.cmd.clone(),
                flag: "log-format".into(),
                value: v.into(),
                why: "text or json",
            });
        }
    };
    Ok(Cli {
        root: path(&m, "root"),
        log: path(&m, "log"),
        log_format,
        systemd_cgroup: m.on("systemd-cgroup"),
        debug: m.on("debug"),
        cmd: cmd(&m)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Cli {
        let argv: Vec<String> = s.iter().map(ToString::to_string).collect();
        match parse(&argv).unwrap() {
            Parsed::Run(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn test_runc_style_lines() {
        let c = p(&[
            "--root",
            "/r",
            "--log-format=json",
            "run",
            "-d",
            "--bundle",
            "/b",
            "c1",
        ]);
        assert_eq!(c.root.as_deref(), Some(std::path::Path::new("/r")));
        assert_eq!(c.log_format, LogFormat::Json);
        let Cmd::Run(r) = c.cmd else { panic!() };
        assert!(r.detach);
        assert_eq!(
            (r.create.id.as_str(), r.create.bundle.to_str()),
            ("c1", Some("/b"))
        );
        let Cmd::Delete(d) = p(&["delete", "c1", "--force"]).cmd else {
            panic!()
        };
        assert!(d.force);
        let Cmd::Kill(k) = p(&["kill", "--all", "c1", "KILL"]).cmd else {
            panic!()
        };
        assert_eq!((k.signal.as_str(), k.all), ("KILL", true));
        let Cmd::Exec(e) = p(&["exec", "-t", "--user", "1:2", "c1", "sh", "-c", "id"]).cmd else {
            panic!()
        };
        assert_eq!(e.args, ["sh", "-c", "id"]);
        assert_eq!(e.user.as_deref(), Some("1:2"));
    }

    #[test]
    fn test_bad_lines() {
        let argv = |s: &[&str]| s.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert!(
            parse(&argv(&["start"]))
                .unwrap_err()
                .to_string()
                .contains("missing container id")
        );
        assert!(parse(&argv(&["frobnicate", "x"])).is_err());
        assert!(matches!(parse(&argv(&["--version"])), Ok(Parsed::Version)));
        assert!(matches!(
            parse(&argv(&["run", "--help"])),
            Ok(Parsed::Help(_))
        ));
    }
}
