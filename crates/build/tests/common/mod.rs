// SPDX-License-Identifier: Apache-2.0
//! Test fixtures: a small tar writer (so malicious members can be crafted exactly), and
//! docker-archive / OCI layout writers around it.
#![allow(dead_code, clippy::unwrap_used, clippy::tests_outside_test_module)]

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

/// A tar archive being written in memory.
#[derive(Default)]
pub struct Tar {
    pub buf: Vec<u8>,
}

impl Tar {
    pub fn new() -> Tar {
        Tar::default()
    }

    fn header(&mut self, name: &str, kind: u8, size: u64, link: &str, mode: u32) {
        if name.len() > 100 || link.len() > 100 {
            // PAX header for long names.
            let mut recs = Vec::new();
            for (k, v) in [("path", name), ("linkpath", link)] {
                if v.len() > 100 {
                    let body = format!(" {k}={v}\n");
                    let mut len = body.len() + 1;
                    while format!("{len}{body}").len() != len {
                        len += 1;
                    }
                    recs.extend_from_slice(format!("{len}{body}").as_bytes());
                }
            }
            self.raw_header("PaxHeader", b'x', recs.len() as u64, "", 0o644);
            self.data(&recs);
        }
        self.raw_header(
            &name[..name.len().min(100)],
            kind,
            size,
            &link[..link.len().min(100)],
            mode,
        );
    }

    pub fn raw_header(&mut self, name: &str, kind: u8, size: u64, link: &str, mode: u32) {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(format!("{mode:07o}\0").as_bytes());
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(format!("{:011o}\0", 1_600_000_000u64).as_bytes());
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        self.buf.extend_from_slice(&h);
    }

    fn data(&mut self, d: &[u8]) {
        self.buf.extend_from_slice(d);
        let pad = (512 - d.len() % 512) % 512;
        self.buf.extend(std::iter::repeat_n(0u8, pad));
    }

    pub fn file(mut self, name: &str, content: &[u8], mode: u32) -> Tar {
        self.header(name, b'0', content.len() as u64, "", mode);
        self.data(content);
        self
    }

    pub fn dir(mut self, name: &str, mode: u32) -> Tar {
        self.header(name, b'5', 0, "", mode);
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Tar {
        self.header(name, b'2', 0, target, 0o777);
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Tar {
        self.header(name, b'1', 0, target, 0o644);
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&[0u8; 1024]);
        self.buf
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// The image config JSON used by the fixtures.
pub fn config_json(diff_ids: &[String]) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(|d| format!("\"sha256:{d}\"")).collect();
    format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["PATH=/bin:/usr/bin:/sbin:/usr/sbin","GREETING=hello world"],"Entrypoint":["/bin/echo"],"Cmd":["from","cmd"],"WorkingDir":"/work","Labels":{{"org.example.test":"yes"}}}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        ids.join(",")
    )
    .into_bytes()
}

/// Writes a `docker save` archive with `layers` (uncompressed tars) at `out`.
pub fn docker_archive(out: &Path, layers: &[Vec<u8>], tag: &str) {
    let ids: Vec<String> = layers.iter().map(|l| sha256_hex(l)).collect();
    let cfg = config_json(&ids);
    let cfg_name = format!("{}.json", sha256_hex(&cfg));
    let layer_names: Vec<String> = ids.iter().map(|i| format!("{i}/layer.tar")).collect();
    let manifest = format!(
        r#"[{{"Config":"{cfg_name}","RepoTags":["{tag}"],"Layers":[{}]}}]"#,
        layer_names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut t = Tar::new()
        .file("manifest.json", manifest.as_bytes(), 0o644)
        .file(&cfg_name, &cfg, 0o644);
    for (i, l) in layers.iter().enumerate() {
        t = t.dir(&ids[i], 0o755).file(&layer_names[i], l, 0o644);
    }
    std::fs::write(out, t.finish()).unwrap();
}

/// Writes an OCI image layout directory at `dir` (gzip-compressed layers), tagged `tag`.
pub fn oci_layout(dir: &Path, layers: &[Vec<u8>], tag: &str) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| {
        let h = sha256_hex(b);
        std::fs::write(blobs.join(&h), b).unwrap();
        h
    };
    let ids: Vec<String> = layers.iter().map(|l| sha256_hex(l)).collect();
    let cfg = config_json(&ids);
    let cfg_h = put(&cfg);
    let mut descs = Vec::new();
    for l in layers {
        let gz = gzip(l);
        let h = put(&gz);
        descs.push(format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{h}","size":{}}}"#, gz.len()));
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{cfg_h}","size":{}}},"layers":[{}]}}"#,
        cfg.len(),
        descs.join(",")
    );
    let m_h = put(manifest.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{m_h}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}]}}"#,
        manifest.len()
    );
    std::fs::write(dir.join("index.json"), index).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// Tars a directory tree (with the system tar) into `out`.
pub fn tar_dir(dir: &Path, out: &Path) {
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
}

/// Layer 1: a busybox rootfs (static busybox + applet links) plus test files.
pub fn busybox_layer() -> Vec<u8> {
    let bb = std::fs::read("/bin/busybox").unwrap();
    let mut t = Tar::new().dir("bin", 0o755).file("bin/busybox", &bb, 0o755);
    for applet in ["sh", "echo", "cat", "ls", "true", "id", "env", "test", "["] {
        t = t.hardlink(&format!("bin/{applet}"), "bin/busybox");
    }
    t.dir("etc", 0o755)
        .file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        .file("etc/gone.txt", b"deleted by layer 2\n", 0o644)
        .dir("opq", 0o755)
        .file("opq/lower.txt", b"hidden by the opaque marker\n", 0o644)
        .file("keep.txt", b"lower\n", 0o644)
        .file("suid", b"#!/bin/sh\n", 0o4755)
        .dir("ro", 0o555)
        .file("ro/inside", b"x\n", 0o444)
        .finish()
}

/// Layer 2: whiteouts, an opaque directory, a hard link to a lower-layer file.
pub fn whiteout_layer() -> Vec<u8> {
    Tar::new()
        .file("etc/.wh.gone.txt", b"", 0o644)
        .file("opq/upper.txt", b"same layer as the marker\n", 0o644)
        .file("opq/.wh..wh..opq", b"", 0o644)
        .hardlink("keep-link", "keep.txt")
        .file(".wh.never-existed", b"", 0o644)
        .file("new.txt", b"upper\n", 0o644)
        .finish()
}

/// `stockade_testutil::busybox_rootfs`, serialized: it copies busybox then runs it, and a
/// concurrent fork in another test thread holding the copy open for writing makes the exec
/// fail with ETXTBSY.
pub fn busybox_rootfs(dir: &Path) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    stockade_testutil::busybox_rootfs(dir).unwrap();
}
