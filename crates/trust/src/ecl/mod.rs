// SPDX-License-Identifier: Apache-2.0
//! Execution Control List (spec §12): may this SIF run here?
//!
//! Apptainer's decisions (`ShouldRun`, with its verify callback: a signature that does not
//! verify with the global keyring is *unvalidated*, not fatal; integrity errors always are),
//! plus two deliberate changes: a malformed or unsafe `ecl.toml` is an error the caller must
//! treat as "deny everything" (Apptainer silently skips the list), and every denial names the
//! execgroup and the key rule that denied it. The decision is made on the already-opened
//! image fd, which is what the runtime then mounts.

mod check;
mod config;
mod decide;
mod load;

pub use check::{Allowed, CheckError};
pub use config::{
    ConfigError, EclConfig, ExecGroup, MAX_ECL_BYTES, MAX_EXECGROUPS, MAX_KEYFPS, Mode, parse,
    parse_and_validate,
};
pub use decide::{DenyReason, EclDenied};
pub use load::{ECL_FILE, Ecl, EclError};
