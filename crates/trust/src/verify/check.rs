// SPDX-License-Identifier: Apache-2.0
//! Current (non-legacy) signatures: one report per signature linked to the task's group.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

use stockade_sif::{Descriptor, ImageMetadata, ReadAt, SifImage, descriptor_view};

use super::KeyMaterial;
use super::digests::Digests;
use super::report::{Failure, SigFormat, SignatureReport, SignerInfo, Task, TaskReport};
use super::tasks::{linked_signatures, task_link};
use crate::dsse::{self, Envelope};
use crate::pgp::{self, Cleartext};

/// Largest signature object read.
pub const MAX_SIGNATURE_BYTES: u64 = 1 << 20;

/// A signature object's data, classified (spec §8: DSSE first, then cleartext PGP).
#[derive(Clone, Debug)]
pub(super) enum Parsed {
    Dsse(Result<Envelope, String>),
    Pgp(Cleartext),
    Unknown,
    Unreadable(String),
}

impl Parsed {
    pub(super) fn is_legacy(&self) -> bool {
        matches!(self, Self::Pgp(ct) if ct.is_legacy())
    }
}

/// Shared state of one verification run.
pub(super) struct Ctx<'a, S: ReadAt> {
    pub img: &'a SifImage<S>,
    pub keys: &'a KeyMaterial,
    pub now: SystemTime,
    pub digests: Digests<'a, S>,
    parsed: RefCell<HashMap<u32, Parsed>>,
}

impl<'a, S: ReadAt + Sync> Ctx<'a, S> {
    pub(super) fn new(img: &'a SifImage<S>, keys: &'a KeyMaterial, now: SystemTime) -> Self {
        Self {
            img,
            keys,
            now,
            digests: Digests::new(img),
            parsed: RefCell::new(HashMap::new()),
        }
    }

    /// The classified data of signature `d` (read once).
    pub(super) fn parsed(&self, d: &Descriptor) -> Parsed {
        if let Some(p) = self.parsed.borrow().get(&d.id()) {
            return p.clone();
        }
        let p = match self.img.read_object(d, MAX_SIGNATURE_BYTES) {
            Err(e) => Parsed::Unreadable(e.to_string()),
            Ok(data) if dsse::is_sif_envelope(&data) => {
                Parsed::Dsse(dsse::parse(&data).map_err(|e| e.to_string()))
            }
            Ok(data) => match pgp::clearsign::parse(&data) {
                Ok(ct) => Parsed::Pgp(ct),
                Err(_) => Parsed::Unknown,
            },
        };
        self.parsed.borrow_mut().insert(d.id(), p.clone());
        p
    }

    /// Checks a cleartext PGP signature; on success the signer's info and 20-byte fp.
    pub(super) fn check_pgp(
        &self,
        sig_id: u32,
        ct: &Cleartext,
    ) -> Result<(SignerInfo, Option<[u8; 20]>), Failure> {
        let ring = self
            .keys
            .pgp
            .as_ref()
            .ok_or(Failure::NoKeyMaterial("PGP"))?;
        let signer =
            pgp::verify_cleartext(ct, ring, self.now).map_err(|e| Failure::SignatureNotValid {
                id: sig_id,
                reason: e.to_string(),
            })?;
        let fp20 = signer.fingerprint20();
        let info = SignerInfo::Pgp {
            fingerprint: signer.fingerprint.to_hex(),
            user_id: signer.user_id,
        };
        Ok((info, fp20))
    }
}

/// Runs a group or object task.
pub(super) fn run_task<S: ReadAt + Sync>(ctx: &Ctx<'_, S>, task: Task) -> TaskReport {
    let sigs: Vec<(&Descriptor, Parsed)> = linked_signatures(ctx.img, task_link(&task))
        .into_iter()
        .map(|d| (d, ctx.parsed(d)))
        .filter(|(_, p)| !p.is_legacy())
        .collect();
    let group = match &task {
        Task::Group(g) | Task::Objects { group: g, .. } => *g,
        Task::LegacyObject(_) | Task::LegacyGroup(_) => 0,
    };
    let failure = sigs
        .is_empty()
        .then_some(Failure::SignatureNotFoundGroup(group));
    let signatures = sigs
        .into_iter()
        .map(|(d, p)| check_signature(ctx, &task, group, d, p))
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
    group: u32,
    d: &Descriptor,
    parsed: Parsed,
) -> SignatureReport {
    let fp = d.signature().and_then(|s| s.fingerprint());
    let mut report = SignatureReport {
        id: d.id(),
        format: SigFormat::Unknown,
        descriptor_fingerprint: fp,
        signer: None,
        verified_objects: Vec::new(),
        result: Ok(()),
    };
    let payload = match parsed {
        Parsed::Dsse(env) => {
            report.format = SigFormat::Dsse;
            dsse_payload(ctx, d.id(), env).map(|(info, payload)| {
                report.signer = Some(info);
                (payload, None)
            })
        }
        Parsed::Pgp(ct) => {
            report.format = SigFormat::Pgp;
            ctx.check_pgp(d.id(), &ct).map(|(info, fp20)| {
                report.signer = Some(info);
                (ct.text, Some(fp20))
            })
        }
        Parsed::Unknown => Err(Failure::UnknownFormat(d.id())),
        Parsed::Unreadable(reason) => Err(Failure::SignatureNotValid { id: d.id(), reason }),
    };
    report.result = payload.and_then(|(payload, pgp_fp)| {
        if let Some(signer_fp) = pgp_fp
            && (signer_fp.is_none() || signer_fp != fp)
        {
            return Err(Failure::FingerprintMismatch);
        }
        let md = ImageMetadata::from_json(&payload).map_err(|e| Failure::BadMetadata {
            id: d.id(),
            reason: e.to_string(),
        })?;
        report.verified_objects = check_metadata(ctx, task, group, d.id(), &md)?;
        Ok(())
    });
    if report.result.is_err() {
        report.verified_objects.clear();
    }
    report
}

fn dsse_payload<S: ReadAt + Sync>(
    ctx: &Ctx<'_, S>,
    id: u32,
    env: Result<Envelope, String>,
) -> Result<(SignerInfo, Vec<u8>), Failure> {
    if ctx.keys.dsse.is_empty() {
        return Err(Failure::NoKeyMaterial("DSSE"));
    }
    let not_valid = |reason: String| Failure::SignatureNotValid { id, reason };
    let env = env.map_err(not_valid)?;
    let accepted = dsse::verify(&env, &ctx.keys.dsse).map_err(|e| not_valid(e.to_string()))?;
    let key_ids = accepted
        .into_iter()
        .map(|i| ctx.keys.dsse[i].key_id())
        .collect();
    Ok((SignerInfo::Dsse { key_ids }, env.payload))
}

/// Object set, header, descriptor and data checks (spec §8.3 c, e–g); returns the ids
/// verified.
fn check_metadata<S: ReadAt + Sync>(
    ctx: &Ctx<'_, S>,
    task: &Task,
    group: u32,
    sig_id: u32,
    md: &ImageMetadata,
) -> Result<Vec<u32>, Failure> {
    if md.version != ImageMetadata::VERSION {
        return Err(Failure::BadMetadata {
            id: sig_id,
            reason: format!("unsupported metadata version {}", md.version),
        });
    }
    let img = ctx.img;
    let min = img.group_min_id(Some(group)).unwrap_or(0);
    let mut signed: Vec<(u32, &stockade_sif::ObjectMetadata)> = md
        .objects
        .iter()
        .map(|o| {
            min.checked_add(o.relative_id)
                .map(|id| (id, o))
                .ok_or(Failure::SignedObjectNotFound(o.relative_id))
        })
        .collect::<Result<_, _>>()?;
    signed.sort_by_key(|(id, _)| *id);
    let signed_ids: BTreeSet<u32> = signed.iter().map(|(id, _)| *id).collect();
    let group_ids: BTreeSet<u32> = img.group_objects(Some(group)).map(|d| d.id()).collect();
    if let Some(id) = signed_ids.difference(&group_ids).next() {
        return Err(Failure::SignedObjectNotFound(*id));
    }
    let wanted: Vec<u32> = match task {
        Task::Objects { ids, .. } => ids.clone(),
        _ => group_ids.iter().copied().collect(),
    };
    if let Some(id) = wanted.iter().find(|id| !signed_ids.contains(id)) {
        return Err(Failure::ObjectNotSigned(*id));
    }
    let halg = md.header.digest.alg();
    if halg.digest(&img.header_view()) != md.header.digest {
        return Err(Failure::HeaderIntegrity);
    }
    for (id, om) in signed.iter().filter(|(id, _)| wanted.contains(id)) {
        let d = img.find(*id).ok_or(Failure::SignedObjectNotFound(*id))?;
        let dalg = om.descriptor_digest.alg();
        if dalg.digest(&descriptor_view(d, om.relative_id)) != om.descriptor_digest {
            return Err(Failure::DescriptorIntegrity(*id));
        }
        if ctx.digests.object(d, om.object_digest.alg())? != om.object_digest {
            return Err(Failure::ObjectIntegrity(*id));
        }
    }
    Ok(wanted)
}
