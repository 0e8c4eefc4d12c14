// SPDX-License-Identifier: Apache-2.0
//! A small synchronous `tracing` subscriber (no threads, no tracing-subscriber): events at
//! or above the level go to `--log` (or stderr) as logrus text lines or JSON lines with
//! `level`, `msg` and `time`, the format containerd reads. The fatal error is written last
//! by [`Logger::fatal`].

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::cli::LogFormat;

/// Where and how log lines are written.
#[derive(Debug)]
pub struct Logger {
    out: Mutex<Option<File>>,
    json: bool,
    max: Level,
}

impl Logger {
    /// A logger writing to `file` (stderr when None).
    pub fn new(file: Option<File>, format: LogFormat, debug: bool) -> Logger {
        Logger {
            out: Mutex::new(file),
            json: format == LogFormat::Json,
            max: if debug { Level::DEBUG } else { Level::WARN },
        }
    }

    /// Writes one line at `level`.
    pub fn line(&self, level: Level, msg: &str) {
        let time = stockade_runtime::state::rfc3339_now();
        let lvl = level.as_str().to_ascii_lowercase();
        let text = if self.json {
            let v = serde_json::json!({"level": lvl, "msg": msg, "time": time});
            format!("{v}\n")
        } else {
            format!("time=\"{time}\" level={lvl} msg={msg:?}\n")
        };
        let mut guard = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.as_mut() {
            Some(f) => {
                let _ = f.write_all(text.as_bytes());
            }
            None => {
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
        }
    }

    /// Whether a file log is configured (the fatal error goes there too).
    pub fn has_file(&self) -> bool {
        self.out.lock().map(|g| g.is_some()).unwrap_or(false)
    }
}

/// The subscriber installed by `main`.
#[derive(Debug)]
pub struct Sub(pub &'static Logger);

struct Msg(String);

impl Visit for Msg {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for Sub {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        *meta.level() <= self.0.max
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut m = Msg(String::new());
        event.record(&mut m);
        self.0.line(*event.metadata().level(), &m.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
