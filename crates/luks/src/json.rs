// SPDX-License-Identifier: Apache-2.0
//! The LUKS2 JSON metadata as serde types, shared by the reader (strict: unknown fields are
//! errors) and the writer. cryptsetup writes 64-bit values as decimal strings and small
//! integers as JSON numbers; these types mirror that exactly.
//!
//! Objects whose `type` decides their shape (keyslots, segments, digests, kdfs) are first read
//! as [`Value`] so an unknown type is reported as such, not as a confusing missing field.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Top-level object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Root {
    pub keyslots: BTreeMap<String, Value>,
    pub tokens: BTreeMap<String, Value>,
    pub segments: BTreeMap<String, Value>,
    pub digests: BTreeMap<String, Value>,
    pub config: Config,
}

/// `config`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    pub json_size: String,
    pub keyslots_size: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Requirements>,
}

/// `config.requirements`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Requirements {
    #[serde(default)]
    pub mandatory: Vec<String>,
}

/// A `luks2` keyslot.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Keyslot {
    #[serde(rename = "type")]
    pub kind: String,
    pub key_size: u32,
    pub af: Af,
    pub area: Area,
    pub kdf: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
}

/// `keyslots.*.af`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Af {
    #[serde(rename = "type")]
    pub kind: String,
    pub stripes: u32,
    pub hash: String,
}

/// `keyslots.*.area`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Area {
    #[serde(rename = "type")]
    pub kind: String,
    pub offset: String,
    pub size: String,
    pub encryption: String,
    pub key_size: u32,
}

/// `keyslots.*.kdf` of type `pbkdf2`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Pbkdf2 {
    #[serde(rename = "type")]
    pub kind: String,
    pub hash: String,
    pub iterations: u32,
    pub salt: String,
}

/// `keyslots.*.kdf` of type `argon2i` / `argon2id`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Argon2 {
    #[serde(rename = "type")]
    pub kind: String,
    pub time: u32,
    pub memory: u32,
    pub cpus: u32,
    pub salt: String,
}

/// A `crypt` segment.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Segment {
    #[serde(rename = "type")]
    pub kind: String,
    pub offset: String,
    pub size: String,
    pub iv_tweak: String,
    pub encryption: String,
    pub sector_size: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<String>>,
}

/// A `pbkdf2` digest.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Digest {
    #[serde(rename = "type")]
    pub kind: String,
    pub keyslots: Vec<String>,
    pub segments: Vec<String>,
    pub hash: String,
    pub iterations: u32,
    pub salt: String,
    pub digest: String,
}

/// The `type` member of an object, if it is a string.
pub(crate) fn type_of(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("<missing>")
}
