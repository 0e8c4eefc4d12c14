// SPDX-License-Identifier: Apache-2.0
//! Image verification (spec §8.3, §9) that reports **every** signature.
//!
//! The reference library stops at the first failure; [`verify`] instead evaluates each task
//! (a group, a subset of a group, or a legacy object/group) and, inside it, each signature on
//! its own: format, key material, cryptographic check, fingerprint, object set, header,
//! descriptor and data digests. The image verifies when every task has at least one signature
//! and every one of them is valid — the reference's verdict — and the report says who signed
//! what and why anything failed, with the reference's wording.

mod check;
mod digests;
mod legacy;
mod report;
mod tasks;

use std::time::SystemTime;

use stockade_sif::{ReadAt, SifImage};

use crate::keys::PublicKey;
use crate::pgp::Keyring;

pub use digests::hash_range;
pub use report::{Failure, Report, SigFormat, SignatureReport, SignerInfo, Task, TaskReport};

/// Which objects to verify.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Selection {
    /// Every group (legacy: the primary system partition).
    #[default]
    Default,
    /// These groups.
    Groups(Vec<u32>),
    /// These objects (a subset of their groups may be signed).
    Objects(Vec<u32>),
    /// Every group (legacy: every grouped non-signature object on its own).
    All,
}

/// Verification options.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VerifyOptions {
    /// What to verify.
    pub selection: Selection,
    /// Verify legacy `SIFHASH` signatures instead of current ones.
    pub legacy: bool,
    /// The time keys and certificates must be valid at.
    pub now: SystemTime,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            selection: Selection::Default,
            legacy: false,
            now: SystemTime::now(),
        }
    }
}

impl VerifyOptions {
    /// Stable text for cache keys (time excluded).
    pub fn cache_tag(&self) -> String {
        format!("{:?}/legacy={}", self.selection, self.legacy)
    }
}

/// Key material: a PGP keyring and/or DSSE public keys (from `--key` or a verified
/// certificate). A signature whose format has no key material fails with
/// "key material not provided".
#[derive(Clone, Debug, Default)]
pub struct KeyMaterial {
    /// OpenPGP keys.
    pub pgp: Option<Keyring>,
    /// DSSE keys.
    pub dsse: Vec<PublicKey>,
}

/// Verifies `img` with `keys`.
pub fn verify<S: ReadAt + Sync>(
    img: &SifImage<S>,
    keys: &KeyMaterial,
    opts: &VerifyOptions,
) -> Report {
    let ctx = check::Ctx::new(img, keys, opts.now);
    if let Err(f) = tasks::check_grouping(img) {
        return Report::failed(f);
    }
    let tasks = match tasks::plan(img, opts) {
        Ok(t) => t,
        Err(f) => return Report::failed(f),
    };
    let reports = tasks
        .into_iter()
        .map(|task| {
            if opts.legacy {
                legacy::run_task(&ctx, task)
            } else {
                check::run_task(&ctx, task)
            }
        })
        .collect();
    Report::new(reports)
}
