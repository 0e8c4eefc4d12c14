// SPDX-License-Identifier: Apache-2.0
//! Legacy `SIFHASH` signatures (spec §9, `--legacy-insecure`): PGP clear-signed hex digest of
//! one object's data, or of a group's data concatenated in descriptor-table order, with the
//! descriptor's hash type. Data only: header and descriptors are not covered.

use stockade_sif::{Descriptor, HashAlg, HashType, ReadAt};

use super::check::{Ctx, Parsed};
use super::report::{Failure, SigFormat, SignatureReport, Task, TaskReport};
use super::tasks::{linked_signatures, task_link};
use crate::pgp::Cleartext;
use crate::pgp::clearsign::LEGACY_PREFIX;

/// Runs a legacy object or group task.
pub(super) fn run_task<S: ReadAt + Sync>(ctx: &Ctx<'_, S>, task: Task) -> TaskReport {
    let sigs: Vec<(&Descriptor, Cleartext)> = linked_signatures(ctx.img, task_link(&task))
        .into_iter()
        .filter_map(|d| match ctx.parsed(d) {
            Parsed::Pgp(ct) if ct.is_legacy() => Some((d, ct)),
            _ => None,
        })
        .collect();
    let failure = sigs.is_empty().then_some(match task {
        Task::LegacyGroup(g) => Failure::SignatureNotFoundGroup(g),
        Task::LegacyObject(id) | Task::Group(id) => Failure::SignatureNotFoundObject(id),
        Task::Objects { group, .. } => Failure::SignatureNotFoundGroup(group),
    });
    let signatures = sigs
        .into_iter()
        .map(|(d, ct)| check_signature(ctx, &task, d, &ct))
        .collect();
    TaskReport {
        task,
        failure,
        signatures,
    }
}

fn check_signature<S: ReadAt + Sync>(
    ctx: &Ctx<'_, S>,
    task: &Task,
    d: &Descriptor,
    ct: &Cleartext,
) -> SignatureReport {
    let meta = d.signature();
    let fp = meta.and_then(|s| s.fingerprint());
    let mut report = SignatureReport {
        id: d.id(),
        format: SigFormat::LegacyPgp,
        descriptor_fingerprint: fp,
        signer: None,
        verified_objects: Vec::new(),
        result: Ok(()),
    };
    let result = ctx.check_pgp(d.id(), ct).and_then(|(info, signer_fp)| {
        report.signer = Some(info);
        if signer_fp.is_none() || signer_fp != fp {
            return Err(Failure::FingerprintMismatch);
        }
        let hash_type = meta.map_or(HashType(0), |m| m.hash_type);
        let alg = HashAlg::from_hash_type(hash_type).ok_or_else(|| Failure::SignatureNotValid {
            id: d.id(),
            reason: format!("unsupported legacy hash type {}", hash_type.0),
        })?;
        let expected = String::from_utf8_lossy(&ct.text[LEGACY_PREFIX.len()..])
            .trim()
            .to_ascii_lowercase();
        match *task {
            Task::LegacyGroup(g) => {
                let got = ctx
                    .img
                    .legacy_group_digest(g, alg)
                    .map_err(|e| Failure::Read(e.to_string()))?;
                if got.hex() != expected {
                    return Err(Failure::GroupIntegrity(g));
                }
                Ok(ctx.img.group_objects(Some(g)).map(Descriptor::id).collect())
            }
            Task::LegacyObject(id) => {
                let obj = ctx.img.find(id).ok_or(Failure::ObjectNotFound(id))?;
                if ctx.digests.object(obj, alg)?.hex() != expected {
                    return Err(Failure::ObjectIntegrity(id));
                }
                Ok(vec![id])
            }
            Task::Group(_) | Task::Objects { .. } => Ok(Vec::new()),
        }
    });
    match result {
        Ok(ids) => report.verified_objects = ids,
        Err(f) => report.result = Err(f),
    }
    report
}
