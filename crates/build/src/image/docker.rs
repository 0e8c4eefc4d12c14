// SPDX-License-Identifier: Apache-2.0
//! `docker save` archives: `manifest.json` (one entry per image, with its `RepoTags`), the
//! config file and the layer tars it names.

use serde::Deserialize;

use super::{Image, LayerRef, archive, image_from_config, parse};
use crate::blobs::Blobs;
use crate::error::BuildError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Reads a `docker save` archive; `tag` selects among `RepoTags` (whole or after `:`).
pub fn read_docker(blobs: &Blobs, tag: Option<&str>) -> Result<Image, BuildError> {
    let list: Vec<DockerManifest> =
        parse(blobs, "manifest.json", &blobs.read_small("manifest.json")?)?;
    let tags: Vec<String> = list
        .iter()
        .flat_map(|m| m.repo_tags.clone().unwrap_or_default())
        .collect();
    let matches = |m: &DockerManifest, t: &str| {
        m.repo_tags
            .iter()
            .flatten()
            .any(|n| n == t || n.rsplit_once(':').is_some_and(|(_, x)| x == t))
    };
    let mut cands: Vec<DockerManifest> = list
        .into_iter()
        .filter(|m| tag.is_none_or(|t| matches(m, t)))
        .collect();
    match cands.len() {
        0 if tag.is_some() => {
            return Err(archive(
                blobs,
                "manifest.json",
                format!(
                    "no image tagged {:?} (tags: {})",
                    tag.unwrap_or(""),
                    tags.join(", ")
                ),
            ));
        }
        0 => return Err(archive(blobs, "manifest.json", "no image".into())),
        1 => {}
        _ => {
            return Err(archive(
                blobs,
                "manifest.json",
                format!(
                    "several images, select one with :TAG (tags: {})",
                    tags.join(", ")
                ),
            ));
        }
    }
    let m = cands.swap_remove(0);
    let raw = blobs.read_small(&m.config)?;
    let mut layers = Vec::with_capacity(m.layers.len());
    for name in m.layers {
        let (_, size) = blobs.open(&name)?;
        // Newer docker archives name layers by digest: check them then.
        let digest = name
            .strip_prefix("blobs/sha256/")
            .filter(|h| h.len() == 64)
            .map(|h| format!("sha256:{h}"));
        layers.push(LayerRef { name, digest, size });
    }
    image_from_config(blobs, &m.config, &raw, layers)
}
