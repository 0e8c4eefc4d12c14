// SPDX-License-Identifier: Apache-2.0
//! A tiny custom test harness (`harness = false`) for clause-per-case suites: runs every case
//! (panics caught), prints `PASS|FAIL|SKIP <clause> <LEVEL>: <title>` per case and
//! `<suite>: N passed, M failed, K skipped of T`, and exits non-zero on any failure.
//! Non-flag arguments filter cases by substring of clause or title; `--list` lists them.

use std::fmt;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

/// Error value meaning "this case does not apply here" (see [`skip!`](crate::skip)).
#[derive(Debug)]
pub struct Skip(pub String);

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skipped: {}", self.0)
    }
}

impl std::error::Error for Skip {}

/// Returns from a case as skipped, with a reason.
#[macro_export]
macro_rules! skip {
    ($($t:tt)*) => {
        return Err(anyhow::Error::new($crate::harness::Skip(format!($($t)*))))
    };
}

/// One case: the spec clause it checks, its RFC 2119 level, a title, the runtime-tools
/// validation programs it mirrors, and the body.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// `file.md#anchor`.
    pub clause: &'static str,
    /// `MUST`, `SHOULD`, `MUST NOT` or `FIELD` (normative field semantics without a keyword).
    pub level: &'static str,
    /// What is checked.
    pub title: &'static str,
    /// runtime-tools `validation/<name>` programs covering the same ground.
    pub mirrors: &'static [&'static str],
    /// The check.
    pub run: fn() -> anyhow::Result<()>,
}

/// Shorthand constructor.
pub const fn case(
    clause: &'static str,
    level: &'static str,
    title: &'static str,
    mirrors: &'static [&'static str],
    run: fn() -> anyhow::Result<()>,
) -> Case {
    Case {
        clause,
        level,
        title,
        mirrors,
        run,
    }
}

enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

fn run_one(c: &Case) -> Outcome {
    match catch_unwind(AssertUnwindSafe(c.run)) {
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err(e)) => match e.downcast_ref::<Skip>() {
            Some(s) => Outcome::Skip(s.0.clone()),
            None => Outcome::Fail(format!("{e:#}")),
        },
        Err(p) => Outcome::Fail(format!(
            "panicked: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default()
        )),
    }
}

/// Runs the suite and returns its exit code.
pub fn main(suite: &str, cases: &[Case]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|c| {
            filters.is_empty()
                || filters
                    .iter()
                    .any(|f| c.clause.contains(f.as_str()) || c.title.contains(f.as_str()))
        })
        .collect();
    if args.iter().any(|a| a == "--list") {
        for c in &selected {
            println!(
                "{} {}: {}  [{}]",
                c.clause,
                c.level,
                c.title,
                c.mirrors.join(", ")
            );
        }
        return ExitCode::SUCCESS;
    }
    if !stockade_testutil::needs_root(suite) {
        return ExitCode::SUCCESS;
    }
    let (mut pass, mut fail, mut skip) = (0, 0, 0);
    let mut failed = Vec::new();
    for c in &selected {
        let head = format!("{} {}: {}", c.clause, c.level, c.title);
        let mirrors = if c.mirrors.is_empty() {
            String::new()
        } else {
            format!("  [runtime-tools: {}]", c.mirrors.join(", "))
        };
        match run_one(c) {
            Outcome::Pass => {
                pass += 1;
                println!("PASS  {head}{mirrors}");
            }
            Outcome::Skip(r) => {
                skip += 1;
                println!("SKIP  {head}{mirrors}\n      {r}");
            }
            Outcome::Fail(r) => {
                fail += 1;
                println!(
                    "FAIL  {head}{mirrors}\n      {}",
                    r.replace('\n', "\n      ")
                );
                failed.push(head);
            }
        }
        let _ = std::io::stdout().flush();
    }
    if !failed.is_empty() {
        println!("\nfailed:");
        for f in &failed {
            println!("  {f}");
        }
    }
    println!(
        "{suite}: {pass} passed, {fail} failed, {skip} skipped of {}",
        selected.len()
    );
    if fail == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
