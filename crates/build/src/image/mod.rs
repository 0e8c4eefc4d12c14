// SPDX-License-Identifier: Apache-2.0
//! Container images in an OCI layout (`index.json` → manifest → config + layers; directory or
//! `oci-archive` tar) or a `docker save` archive (`manifest.json` + config + layer tars).

mod docker;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::blobs::Blobs;
use crate::error::BuildError;
pub use docker::read_docker;

/// Deepest nesting of image indexes followed.
const MAX_INDEX_DEPTH: usize = 4;

/// A resolved image: its run configuration and layer blobs (bottom first).
#[derive(Debug, Clone)]
pub struct Image {
    /// The image config's `config` object, serialized compactly (stored as `oci-config.json`).
    pub config_json: Vec<u8>,
    /// The parsed run configuration.
    pub config: RunConfig,
    /// Go architecture name from the config (`amd64`), if any.
    pub architecture: Option<String>,
    /// Layers: blob name and digest (when known).
    pub layers: Vec<LayerRef>,
}

/// A layer to apply.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// Blob name in the layout or archive.
    pub name: String,
    /// `sha256:<hex>` when the manifest gives it.
    pub digest: Option<String>,
    /// Size in bytes.
    pub size: u64,
}

/// The parts of an image's run configuration a SIF uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `KEY=value` entries.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// Entrypoint argv.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Default command argv.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: Option<String>,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

#[derive(Deserialize)]
struct IndexOrManifest {
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The blob path of a digest (`sha256:<64 hex>` → `blobs/sha256/<hex>`).
fn blob_path(blobs: &Blobs, digest: &str) -> Result<String, BuildError> {
    let ok = digest.strip_prefix("sha256:").filter(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    });
    ok.map(|h| format!("blobs/sha256/{h}"))
        .ok_or_else(|| BuildError::Archive {
            path: blobs.path().to_path_buf(),
            member: "index.json".into(),
            problem: format!("unsupported digest {digest:?}"),
        })
}

fn parse<T: for<'de> Deserialize<'de>>(
    blobs: &Blobs,
    member: &str,
    raw: &[u8],
) -> Result<T, BuildError> {
    serde_json::from_slice(raw).map_err(json_err(blobs, member))
}

/// Reads an OCI layout; `tag` selects a manifest by its `org.opencontainers.image.ref.name`
/// (the whole name or what follows its last `:`).
pub fn read_oci(blobs: &Blobs, tag: Option<&str>) -> Result<Image, BuildError> {
    let mut member = "index.json".to_string();
    let mut doc: IndexOrManifest = parse(blobs, &member, &blobs.read_small(&member)?)?;
    for depth in 0.. {
        let Some(list) = doc.manifests.take() else {
            break;
        };
        if depth >= MAX_INDEX_DEPTH {
            return Err(archive(
                blobs,
                &member,
                "image indexes nested too deeply".into(),
            ));
        }
        let d = select(blobs, &member, list, if depth == 0 { tag } else { None })?;
        member = blob_path(blobs, &d.digest)?;
        doc = parse(
            blobs,
            &member,
            &read_checked(blobs, &member, &d.digest, d.size)?,
        )?;
    }
    let (Some(cfg), Some(layers)) = (doc.config, doc.layers) else {
        return Err(archive(blobs, &member, "not an image manifest".into()));
    };
    let cfg_name = blob_path(blobs, &cfg.digest)?;
    let raw = read_checked(blobs, &cfg_name, &cfg.digest, cfg.size)?;
    let mut layer_refs = Vec::with_capacity(layers.len());
    for l in layers {
        if l.media_type
            .as_deref()
            .is_some_and(|m| m.contains("foreign") || m.contains("nondistributable"))
        {
            return Err(archive(
                blobs,
                &l.digest,
                "foreign layers are not supported".into(),
            ));
        }
        layer_refs.push(LayerRef {
            name: blob_path(blobs, &l.digest)?,
            digest: Some(l.digest),
            size: l.size,
        });
    }
    image_from_config(blobs, &cfg_name, &raw, layer_refs)
}

fn select(
    blobs: &Blobs,
    member: &str,
    list: Vec<Descriptor>,
    tag: Option<&str>,
) -> Result<Descriptor, BuildError> {
    let names: Vec<String> = list
        .iter()
        .filter_map(|d| d.annotations.as_ref()?.get(REF_NAME).cloned())
        .collect();
    let mut cands: Vec<Descriptor> = match tag {
        Some(t) => list
            .into_iter()
            .filter(|d| {
                d.annotations
                    .as_ref()
                    .and_then(|a| a.get(REF_NAME))
                    .is_some_and(|n| n == t || n.rsplit_once(':').is_some_and(|(_, x)| x == t))
            })
            .collect(),
        None => list,
    };
    if cands.is_empty() {
        return Err(archive(
            blobs,
            member,
            format!(
                "no image tagged {:?} (tags: {})",
                tag.unwrap_or(""),
                names.join(", ")
            ),
        ));
    }
    if cands.len() > 1 {
        // A multi-platform index: take this machine's platform.
        let host = stockade_sif::Arch::host().go_name();
        if let Some(i) = cands.iter().position(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == host)
        }) {
            return Ok(cands.swap_remove(i));
        }
        if cands.iter().all(|d| d.platform.is_none()) && tag.is_none() {
            return Err(archive(
                blobs,
                member,
                format!(
                    "several images, select one with :TAG (tags: {})",
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(cands.swap_remove(0))
}

fn read_checked(blobs: &Blobs, name: &str, digest: &str, size: u64) -> Result<Vec<u8>, BuildError> {
    use sha2::Digest;
    let raw = blobs.read_small(name)?;
    let got = format!("sha256:{}", crate::layer::hex(&sha2::Sha256::digest(&raw)));
    if raw.len() as u64 != size || got != digest {
        return Err(archive(
            blobs,
            name,
            format!(
                "content does not match its descriptor ({got}, {} bytes)",
                raw.len()
            ),
        ));
    }
    Ok(raw)
}

fn archive(blobs: &Blobs, member: &str, problem: String) -> BuildError {
    BuildError::Archive {
        path: blobs.path().to_path_buf(),
        member: member.into(),
        problem,
    }
}

/// Maps a JSON error in `member` to [`BuildError::ArchiveJson`].
fn json_err<'a>(
    blobs: &'a Blobs,
    member: &'a str,
) -> impl FnOnce(serde_json::Error) -> BuildError + 'a {
    move |source| BuildError::ArchiveJson {
        path: blobs.path().to_path_buf(),
        member: member.into(),
        source,
    }
}

fn image_from_config(
    blobs: &Blobs,
    name: &str,
    raw: &[u8],
    layers: Vec<LayerRef>,
) -> Result<Image, BuildError> {
    let cf: ConfigFile = parse(blobs, name, raw)?;
    let value = cf
        .config
        .unwrap_or(serde_json::Value::Object(Default::default()));
    let config: RunConfig = if value.is_null() {
        RunConfig::default()
    } else {
        serde_json::from_value(value.clone()).map_err(json_err(blobs, name))?
    };
    let config_json = serde_json::to_vec(&value).map_err(json_err(blobs, name))?;
    Ok(Image {
        config_json,
        config,
        architecture: cf.architecture,
        layers,
    })
}
