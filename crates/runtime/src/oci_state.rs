// SPDX-License-Identifier: Apache-2.0
//! State JSON: the OCI `State` given to hooks on stdin, and the runc-shaped object printed
//! by `state` and `list --format json` (adds `rootfs`, `created`, `owner`, `paused`).

use std::collections::HashMap;
use std::path::PathBuf;

use oci_spec::runtime::{ContainerState, State};
use serde::Serialize;

use crate::state::Record;

/// OCI spec version this runtime implements.
pub const OCI_VERSION: &str = "1.2.0";

/// The hook state JSON for `rec` with `status`.
pub fn hook_state(rec: &Record, status: ContainerState) -> String {
    let mut st = State::default();
    st.set_version(OCI_VERSION.into());
    st.set_id(rec.id.clone());
    st.set_status(status);
    st.set_pid((rec.pid > 0).then_some(rec.pid));
    st.set_bundle(rec.bundle.clone());
    st.set_annotations((!rec.annotations.is_empty()).then(|| rec.annotations.clone()));
    serde_json::to_string(&st).unwrap_or_else(|_| "{}".into())
}

/// Container status, including `paused` (not in the OCI enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created.
    Creating,
    /// Created, waiting for start.
    Created,
    /// Running.
    Running,
    /// Frozen.
    Paused,
    /// Exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

impl Status {
    /// The OCI status hooks see.
    pub fn oci(self) -> ContainerState {
        match self {
            Status::Creating => ContainerState::Creating,
            Status::Created => ContainerState::Created,
            Status::Running | Status::Paused => ContainerState::Running,
            Status::Stopped => ContainerState::Stopped,
        }
    }
}

/// What `state` prints (runc's field names).
#[derive(Debug, Clone, Serialize)]
pub struct StateView {
    /// OCI version.
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    /// Id.
    pub id: String,
    /// init's pid (0 once stopped).
    pub pid: i32,
    /// Status.
    pub status: Status,
    /// Bundle.
    pub bundle: PathBuf,
    /// Rootfs.
    pub rootfs: PathBuf,
    /// Creation time.
    pub created: String,
    /// Owner (user name when known, else uid).
    pub owner: String,
    /// Annotations.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

impl StateView {
    /// The view of a record with its current status.
    pub fn new(rec: &Record, status: Status) -> StateView {
        StateView {
            oci_version: OCI_VERSION.into(),
            id: rec.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                rec.pid
            },
            status,
            bundle: rec.bundle.clone(),
            rootfs: rec.rootfs.clone(),
            created: rec.created.clone(),
            owner: if rec.owner == 0 {
                "root".into()
            } else {
                rec.owner.to_string()
            },
            annotations: rec.annotations.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_hook_state_shape() {
        let rec = Record {
            id: "c".into(),
            pid: 7,
            bundle: "/b".into(),
            ..Record::default()
        };
        let v: serde_json::Value =
            serde_json::from_str(&hook_state(&rec, ContainerState::Created)).unwrap();
        assert_eq!(v["id"], "c");
        assert_eq!(v["pid"], 7);
        assert_eq!(v["status"], "created");
        assert_eq!(v["bundle"], "/b");
        assert_eq!(v["ociVersion"], OCI_VERSION);
    }
}
