// SPDX-License-Identifier: Apache-2.0
//! The build-specific `/.singularity.d` files and `inspect-metadata.json`, which records what
//! they hold (as `apptainer inspect` shows it).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Layout, SD, labels_json, put_file, read_file, scripts};
use crate::extract::tree::{DirCache, Tree};

/// `inspect-metadata.json` (Apptainer's `inspect.Metadata`, same field order).
#[derive(Debug, Serialize)]
pub struct InspectMetadata {
    data: InspectData,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Debug, Serialize)]
struct InspectData {
    attributes: Attributes,
}

#[derive(Debug, Default, Serialize)]
struct Attributes {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    runscript: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    test: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    helpfile: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    deffile: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    startscript: String,
}

/// Writes the build-specific files and returns `inspect-metadata.json`.
pub fn write(tree: &Tree, l: &Layout) -> std::io::Result<Vec<u8>> {
    let mut c = DirCache::default();
    let mut attrs = Attributes::default();
    if let Some(d) = &l.deffile {
        put_file(tree, &mut c, &format!("{SD}/Singularity"), d, 0o644)?;
        attrs.deffile = String::from_utf8_lossy(d).into_owned();
    }
    for (name, text) in [
        ("runscript", &l.runscript),
        ("startscript", &l.startscript),
        ("test", &l.test),
    ] {
        if let Some(t) = text {
            put_file(tree, &mut c, &format!("{SD}/{name}"), t.as_bytes(), 0o755)?;
        }
    }
    if let Some(h) = &l.help {
        put_file(
            tree,
            &mut c,
            &format!("{SD}/runscript.help"),
            h.as_bytes(),
            0o644,
        )?;
    }
    if let Some(e) = &l.docker_env {
        put_file(
            tree,
            &mut c,
            &format!("{SD}/env/10-docker2singularity.sh"),
            e.as_bytes(),
            0o755,
        )?;
    }
    let env_rel = format!("{SD}/env/90-environment.sh");
    if let Some(e) = &l.environment {
        let mut cur = read_file(tree, &env_rel)
            .unwrap_or_else(|| scripts::ENV_ENVIRONMENT.as_bytes().to_vec());
        cur.extend_from_slice(format!("{e}\n").as_bytes());
        put_file(tree, &mut c, &env_rel, &cur, 0o755)?;
    }
    let lab_rel = format!("{SD}/labels.json");
    let mut labels: BTreeMap<String, String> = read_file(tree, &lab_rel)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    labels.extend(l.labels.clone());
    put_file(tree, &mut c, &lab_rel, &labels_json(&labels), 0o644)?;
    for rel in [format!("{SD}/env/10-docker2singularity.sh"), env_rel] {
        if let Some(b) = read_file(tree, &rel) {
            attrs
                .environment
                .insert(format!("/{rel}"), String::from_utf8_lossy(&b).into_owned());
        }
    }
    let text = |rel: &str| {
        read_file(tree, &format!("{SD}/{rel}"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    attrs.runscript = text("runscript");
    attrs.startscript = text("startscript");
    attrs.test = text("test");
    attrs.helpfile = text("runscript.help");
    attrs.labels = labels;
    let meta = InspectMetadata {
        data: InspectData { attributes: attrs },
        kind: "container",
    };
    serde_json::to_vec(&meta).map_err(std::io::Error::other)
}
