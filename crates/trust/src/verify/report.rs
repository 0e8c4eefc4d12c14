// SPDX-License-Identifier: Apache-2.0
//! What verification found: per task, per signature.

use std::collections::BTreeSet;

/// Why something did not verify. Messages follow the reference library's wording.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The image has no data objects.
    #[error("no objects found")]
    NoObjects,
    /// The image has no object groups.
    #[error("no groups found")]
    NoGroups,
    /// A requested group has no objects.
    #[error("object group {0} not found")]
    GroupNotFound(u32),
    /// A requested object does not exist.
    #[error("object {0} not found")]
    ObjectNotFound(u32),
    /// Legacy default mode on an image without a primary system partition.
    #[error("object not found: no primary system partition")]
    NoPrimaryPartition,
    /// A non-signature object is in no group.
    #[error("non-signature object not associated with object group")]
    Ungrouped(u32),
    /// No signature for a group task.
    #[error("signature not found for object group {0}")]
    SignatureNotFoundGroup(u32),
    /// No signature for a legacy object task.
    #[error("signature not found for object {0}")]
    SignatureNotFoundObject(u32),
    /// No key material for this signature's format.
    #[error("key material not provided for {0} signature")]
    NoKeyMaterial(&'static str),
    /// The signature object is not DSSE or PGP.
    #[error("signature object {0} not valid: signature format not recognized")]
    UnknownFormat(u32),
    /// Cryptographic failure or unknown signer.
    #[error("signature object {id} not valid: {reason}")]
    SignatureNotValid {
        /// Signature object id.
        id: u32,
        /// Why.
        reason: String,
    },
    /// The signed metadata is not a valid document.
    #[error("signature object {id}: invalid signed metadata: {reason}")]
    BadMetadata {
        /// Signature object id.
        id: u32,
        /// Why.
        reason: String,
    },
    /// PGP signer's primary fingerprint differs from the descriptor's.
    #[error("fingerprint in descriptor does not correspond to signing entity")]
    FingerprintMismatch,
    /// A group object is missing from the signed metadata.
    #[error("object {0} not signed")]
    ObjectNotSigned(u32),
    /// The metadata names an object that is not in the group.
    #[error("signed object {0} not found")]
    SignedObjectNotFound(u32),
    /// Header view digest mismatch.
    #[error("header integrity compromised")]
    HeaderIntegrity,
    /// Descriptor view digest mismatch.
    #[error("data object descriptor integrity compromised: {0}")]
    DescriptorIntegrity(u32),
    /// Object data digest mismatch.
    #[error("data object integrity compromised: {0}")]
    ObjectIntegrity(u32),
    /// Legacy group digest mismatch.
    #[error("object group integrity compromised: {0}")]
    GroupIntegrity(u32),
    /// I/O failure while reading the image.
    #[error("cannot read image: {0}")]
    Read(String),
}

impl Failure {
    /// True for "signature object K not valid" (crypto failure, unknown signer): the only
    /// error Apptainer's ECL callback waives.
    pub fn is_signature_not_valid(&self) -> bool {
        matches!(self, Self::SignatureNotValid { .. })
    }
}

/// A verification task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Task {
    /// All objects of a group.
    Group(u32),
    /// Some objects of a group.
    Objects {
        /// Group.
        group: u32,
        /// Requested ids, ascending.
        ids: Vec<u32>,
    },
    /// Legacy signature of one object.
    LegacyObject(u32),
    /// Legacy signature of a group.
    LegacyGroup(u32),
}

/// Signature payload format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigFormat {
    /// OpenPGP clear-signed metadata.
    Pgp,
    /// DSSE envelope.
    Dsse,
    /// Legacy `SIFHASH` clear-signed digest.
    LegacyPgp,
    /// Not recognised.
    Unknown,
}

/// Who made a signature, once cryptographically verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerInfo {
    /// OpenPGP certificate.
    Pgp {
        /// Primary fingerprint, upper-case hex.
        fingerprint: String,
        /// Primary user id.
        user_id: Option<String>,
    },
    /// DSSE keys that verified (their key ids).
    Dsse {
        /// `SHA256:…` key ids.
        key_ids: Vec<String>,
    },
}

/// One signature object's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureReport {
    /// Signature object id.
    pub id: u32,
    /// Format.
    pub format: SigFormat,
    /// Fingerprint stored in the descriptor (what ECL fingerprint queries read).
    pub descriptor_fingerprint: Option<[u8; 20]>,
    /// Verified signer (set once the cryptographic check passed).
    pub signer: Option<SignerInfo>,
    /// Object ids whose integrity this signature established.
    pub verified_objects: Vec<u32>,
    /// Outcome.
    pub result: Result<(), Failure>,
}

/// One task's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskReport {
    /// The task.
    pub task: Task,
    /// Task-level failure (no signature found).
    pub failure: Option<Failure>,
    /// Every signature considered.
    pub signatures: Vec<SignatureReport>,
}

impl TaskReport {
    /// True when the task found signatures and all of them verified.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
            && !self.signatures.is_empty()
            && self.signatures.iter().all(|s| s.result.is_ok())
    }

    /// Descriptor fingerprints of the task's signatures.
    pub fn fingerprints(&self) -> BTreeSet<[u8; 20]> {
        self.signatures
            .iter()
            .filter_map(|s| s.descriptor_fingerprint)
            .collect()
    }
}

/// The whole result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// A failure that prevented planning tasks.
    pub failure: Option<Failure>,
    /// Tasks in order.
    pub tasks: Vec<TaskReport>,
}

impl Report {
    pub(crate) fn failed(f: Failure) -> Self {
        Self {
            failure: Some(f),
            tasks: Vec::new(),
        }
    }

    pub(crate) fn new(tasks: Vec<TaskReport>) -> Self {
        Self {
            failure: None,
            tasks,
        }
    }

    /// The verdict: every task verified.
    pub fn ok(&self) -> bool {
        self.failure.is_none() && !self.tasks.is_empty() && self.tasks.iter().all(TaskReport::ok)
    }

    /// Every failure, in order (image-level, then per task and signature).
    pub fn failures(&self) -> Vec<&Failure> {
        let mut out: Vec<&Failure> = self.failure.iter().collect();
        for t in &self.tasks {
            out.extend(t.failure.iter());
            out.extend(t.signatures.iter().filter_map(|s| s.result.as_ref().err()));
        }
        out
    }

    /// The first failure (the reference library's single error).
    pub fn first_failure(&self) -> Option<&Failure> {
        self.failures().into_iter().next()
    }

    /// Fingerprints that signed in every task (`AllSignedBy`: descriptor entities only).
    pub fn all_signed_by(&self) -> BTreeSet<[u8; 20]> {
        let mut it = self.tasks.iter().map(TaskReport::fingerprints);
        let first = it.next().unwrap_or_default();
        it.fold(first, |acc, s| acc.intersection(&s).copied().collect())
    }

    /// Fingerprints that signed in any task (`AnySignedBy`).
    pub fn any_signed_by(&self) -> BTreeSet<[u8; 20]> {
        self.tasks
            .iter()
            .flat_map(TaskReport::fingerprints)
            .collect()
    }

    /// Object ids verified by at least one valid signature, ascending.
    pub fn verified_objects(&self) -> BTreeSet<u32> {
        self.tasks
            .iter()
            .flat_map(|t| t.signatures.iter())
            .filter(|s| s.result.is_ok())
            .flat_map(|s| s.verified_objects.iter().copied())
            .collect()
    }
}
