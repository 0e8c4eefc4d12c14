// SPDX-License-Identifier: Apache-2.0
//! The check before a run: execgroup selection, the verification cache, and on a miss a full
//! verification with the global keyring (design: `docs/design/verify-cache.md`).
//!
//! [`Ecl::check_global`] is the run path: it identifies the global keyring by the SHA-256 of
//! its file bytes and parses those same bytes only on a miss, so a cache hit costs a few
//! syscalls and no OpenPGP work. [`Ecl::check`] takes an already parsed keyring.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;
use std::time::SystemTime;

use sha2::Digest as _;
use stockade_sif::SifImage;

use super::config::ExecGroup;
use super::decide::{DenyReason, EclDenied, decide};
use super::load::Ecl;
use crate::cache::hex;
use crate::pgp::{Keyring, KeyringError, keyring};
use crate::verify::{self, KeyMaterial, Selection, VerifyOptions};

/// How [`Ecl::check_global`] allowed an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// The list is not activated.
    NotActivated,
    /// A root-written cache entry says this exact file passed this exact check.
    Cached,
    /// Verified now.
    Verified,
}

/// Why [`Ecl::check_global`] refused an image.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The ECL denied it.
    #[error(transparent)]
    Denied(#[from] EclDenied),
    /// The global keyring cannot be read or parsed: nothing can be verified.
    #[error("cannot load the global keyring: {}", chain(.0))]
    Keyring(#[from] KeyringError),
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

impl Ecl {
    /// Decides whether the SIF opened as `image` (resolved absolute path `resolved_path`)
    /// may run, with the global keyring ([`Ecl::global_keyring`]) as the only key material.
    /// The keyring is read (bounded) and parsed only on a cache miss.
    pub fn check_global(&self, image: &File, resolved_path: &Path) -> Result<Allowed, CheckError> {
        if !self.config.activated {
            return Ok(Allowed::NotActivated);
        }
        let ring_path = self.global_keyring();
        let bytes = keyring::read_file(ring_path)?;
        let ring_id = format!("ringfile={}", hex(&sha2::Sha256::digest(&bytes)));
        self.run_check(image, resolved_path, &ring_id, || {
            Keyring::from_bytes(&bytes, ring_path).map(Cow::Owned)
        })
    }

    /// As [`Ecl::check_global`], with an already parsed `global_keyring`.
    pub fn check(
        &self,
        image: &File,
        resolved_path: &Path,
        global_keyring: &Keyring,
    ) -> Result<(), EclDenied> {
        if !self.config.activated {
            return Ok(());
        }
        let ring_id = format!("ring={}", hex(&global_keyring.digest()));
        let ring = || Ok(Cow::Borrowed(global_keyring));
        match self.run_check(image, resolved_path, &ring_id, ring) {
            Ok(_) => Ok(()),
            Err(CheckError::Denied(d)) => Err(d),
            Err(CheckError::Keyring(e)) => Err(EclDenied {
                image: resolved_path.to_path_buf(),
                ecl: self.path.clone(),
                execgroup: None,
                reason: DenyReason::NotVerified(vec![chain(&e)]),
            }),
        }
    }

    /// Select, look up, else verify with `ring()` (identified by `ring_id`) and store.
    fn run_check<'r>(
        &self,
        image: &File,
        resolved_path: &Path,
        ring_id: &str,
        ring: impl FnOnce() -> Result<Cow<'r, Keyring>, KeyringError>,
    ) -> Result<Allowed, CheckError> {
        let deny = |execgroup: Option<&ExecGroup>, reason| EclDenied {
            image: resolved_path.to_path_buf(),
            ecl: self.path.clone(),
            execgroup: execgroup.cloned().map(Box::new),
            reason,
        };
        let dir = resolved_path.parent().unwrap_or(Path::new("/"));
        let (index, group) = self.select(dir).ok_or_else(|| {
            deny(
                None,
                DenyReason::NoExecGroup {
                    dir: dir.to_path_buf(),
                },
            )
        })?;
        let cache_key = self.cache.as_ref().and_then(|c| {
            let ctx = format!(
                "ecl={}|{ring_id}|group={index}|dir={}|legacy={}",
                hex(&self.digest),
                dir.display(),
                self.config.legacy
            );
            c.key(image, ctx.as_bytes())
        });
        if let (Some(c), Some(k)) = (&self.cache, &cache_key)
            && c.lookup(k)
        {
            tracing::debug!(image = %resolved_path.display(), "ECL: verified result cached");
            return Ok(Allowed::Cached);
        }
        let img = SifImage::from_source(image, resolved_path)
            .map_err(|e| deny(Some(group), DenyReason::NotSif(e.to_string())))?;
        let ring = ring()?;
        let now = SystemTime::now();
        // Time-dependent validity (key expiry) is re-checked once the entry's bound passes.
        let not_after = cache_key.as_ref().and_then(|_| ring.earliest_expiry(now));
        let opts = VerifyOptions {
            selection: Selection::Default,
            legacy: self.config.legacy,
            now,
        };
        let keys = KeyMaterial {
            pgp: Some(ring.into_owned()),
            dsse: Vec::new(),
        };
        let report = verify::verify(&img, &keys, &opts);
        decide(group, &report).map_err(|r| deny(Some(group), r))?;
        if let (Some(c), Some(k)) = (&self.cache, &cache_key) {
            let until = not_after.unwrap_or(now + crate::VerifyCache::MAX_ENTRY_AGE);
            if let Err(e) = c.store_until(k, image, until) {
                tracing::debug!(error = %e, "ECL: verified result not cached");
            }
        }
        Ok(Allowed::Verified)
    }

    /// The execgroup for images in `dir`: exact dirpath match first, else the catch-all.
    fn select(&self, dir: &Path) -> Option<(usize, &ExecGroup)> {
        let groups = &self.config.execgroups;
        groups
            .iter()
            .enumerate()
            .find(|(_, g)| !g.dirpath.is_empty() && Path::new(&g.dirpath) == dir)
            .or_else(|| {
                groups
                    .iter()
                    .enumerate()
                    .find(|(_, g)| g.dirpath.is_empty())
            })
    }
}
