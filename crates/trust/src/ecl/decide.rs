// SPDX-License-Identifier: Apache-2.0
//! The decision (`ShouldRun`, spec §12.3–12.4, Apptainer's callback semantics).

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use super::config::{ExecGroup, Mode};
use crate::pgp::fp_hex;
use crate::verify::Report;

/// Why the ECL refused an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    /// No execgroup for the image's directory and no catch-all.
    NoExecGroup {
        /// The image's directory.
        dir: PathBuf,
    },
    /// The image is not a loadable SIF.
    NotSif(String),
    /// Verification failed for a reason the callback does not waive.
    NotVerified(Vec<String>),
    /// whitelist / whitestrict: the required keys did not (validly) sign every group.
    NotSignedByRequired {
        /// Keys the rule requires (one of, or all of).
        required: Vec<String>,
        /// Required keys that signed but whose signature did not verify.
        unvalidated: Vec<String>,
    },
    /// blacklist: a forbidden key signed.
    SignedByForbidden {
        /// The forbidden fingerprint found.
        fingerprint: String,
    },
}

/// A denial, naming the execgroup and rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EclDenied {
    /// The image.
    pub image: PathBuf,
    /// The ECL file.
    pub ecl: PathBuf,
    /// The execgroup that decided (none when no execgroup matched).
    pub execgroup: Option<Box<ExecGroup>>,
    /// Why.
    pub reason: DenyReason,
}

impl fmt::Display for EclDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} denied by {}",
            self.image.display(),
            self.ecl.display()
        )?;
        if let Some(g) = &self.execgroup {
            let dir = if g.dirpath.is_empty() {
                "\"\" (any)"
            } else {
                &g.dirpath
            };
            write!(f, " execgroup {:?} ({}, dirpath {dir})", g.tagname, g.mode)?;
        }
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        match &self.reason {
            DenyReason::NoExecGroup { dir } => {
                write!(f, ": {} not part of any execgroup", dir.display())
            }
            DenyReason::NotSif(e) => write!(f, ": cannot load image: {e}"),
            DenyReason::NotVerified(errs) => {
                write!(f, ": image signature not valid: {}", errs.join("; "))
            }
            DenyReason::NotSignedByRequired {
                required,
                unvalidated,
            } => {
                let rule = match self.execgroup.as_ref().map(|g| g.mode) {
                    Some(Mode::Whitestrict) => "all of",
                    _ => "one of",
                };
                write!(
                    f,
                    ": image not signed by required entities (key rule: {rule} {}; \
                     signed but not verified by the global keyring: {})",
                    list(required),
                    list(unvalidated)
                )
            }
            DenyReason::SignedByForbidden { fingerprint } => write!(
                f,
                ": image signed by a forbidden entity (key rule: blacklisted {fingerprint})"
            ),
        }
    }
}

/// Mode check on a verification report, waiving "signature not valid" as Apptainer does.
pub(super) fn decide(group: &ExecGroup, report: &Report) -> Result<(), DenyReason> {
    let mut unvalidated: BTreeSet<[u8; 20]> = BTreeSet::new();
    let mut fatal: Vec<String> = report.failure.iter().map(ToString::to_string).collect();
    for t in &report.tasks {
        fatal.extend(t.failure.iter().map(ToString::to_string));
        for s in &t.signatures {
            match &s.result {
                Err(f) if f.is_signature_not_valid() => {
                    unvalidated.extend(s.descriptor_fingerprint);
                }
                Err(f) => fatal.push(f.to_string()),
                Ok(()) => {}
            }
        }
    }
    if !fatal.is_empty() {
        return Err(DenyReason::NotVerified(fatal));
    }
    let valid =
        |fp: &[u8; 20], set: &BTreeSet<[u8; 20]>| set.contains(fp) && !unvalidated.contains(fp);
    let required = || group.keyfp.iter().map(|k| fp_hex(k)).collect::<Vec<_>>();
    let unvalidated_required = || {
        group
            .keyfp
            .iter()
            .filter(|k| unvalidated.contains(*k))
            .map(|k| fp_hex(k))
            .collect::<Vec<_>>()
    };
    match group.mode {
        Mode::Whitelist | Mode::Whitestrict => {
            let all = report.all_signed_by();
            let ok = if group.mode == Mode::Whitelist {
                group.keyfp.iter().any(|k| valid(k, &all))
            } else {
                group.keyfp.iter().all(|k| valid(k, &all))
            };
            if ok {
                Ok(())
            } else {
                Err(DenyReason::NotSignedByRequired {
                    required: required(),
                    unvalidated: unvalidated_required(),
                })
            }
        }
        Mode::Blacklist => {
            let any = report.any_signed_by();
            match group.keyfp.iter().find(|k| any.contains(*k)) {
                Some(k) => Err(DenyReason::SignedByForbidden {
                    fingerprint: fp_hex(k),
                }),
                None => Ok(()),
            }
        }
    }
}
