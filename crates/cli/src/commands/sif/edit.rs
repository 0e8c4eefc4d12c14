// SPDX-License-Identifier: Apache-2.0
//! `stockade sif new|add|del|setprim`, with siftool's flags.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use stockade_sif::{
    Arch, Builder, DataType, DeleteOptions, FsType, HashAlg, HashType, Link, ObjectData,
    ObjectInput, PartType, PartitionMeta, SbomFormat, SifImage, TimeMode,
};

/// `stockade sif new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Nil id and unset timestamps (reproducible output).
    #[arg(long)]
    deterministic: bool,
    /// Launch script (shebang line) to store in the header.
    #[arg(long, value_name = "SCRIPT")]
    launch_script: Option<String>,
    /// Image UUID instead of a random one.
    #[arg(long, value_name = "UUID")]
    id: Option<String>,
    /// Image to create.
    image: PathBuf,
}

/// `stockade sif add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Type of data: 1-Deffile 2-EnvVar 3-Labels 4-Partition 5-Signature 6-GenericJSON
    /// 7-Generic 8-CryptoMessage 9-SBOM 10-OCI.RootIndex 11-OCI.Blob.
    #[arg(long)]
    datatype: i32,
    /// Partition type (with --datatype 4): 1-System 2-PrimSys 3-Data 4-Overlay.
    #[arg(long)]
    parttype: Option<i32>,
    /// Partition file system (with --datatype 4): 1-Squash 2-Ext3 3-ImmuObj 4-Raw.
    #[arg(long)]
    partfs: Option<i32>,
    /// Partition architecture (with --datatype 4): 1-386 2-amd64 ... 12-riscv64, or a name.
    #[arg(long)]
    partarch: Option<String>,
    /// Signature hash (with --datatype 5): 1-SHA256 2-SHA384 3-SHA512 4-BLAKE2s 5-BLAKE2b.
    #[arg(long)]
    signhash: Option<i32>,
    /// Signing entity fingerprint, 40 hex digits (with --datatype 5).
    #[arg(long)]
    signentity: Option<String>,
    /// SBOM format (with --datatype 9): cyclonedx-json, spdx-json, syft-json...
    #[arg(long)]
    sbomformat: Option<String>,
    /// Object group (0: no group).
    #[arg(long, default_value_t = 0)]
    groupid: u32,
    /// Link to this object id.
    #[arg(long, conflicts_with = "linkgroup")]
    link: Option<u32>,
    /// Link to this group id.
    #[arg(long)]
    linkgroup: Option<u32>,
    /// Data alignment [default: 4096 for partitions, none otherwise].
    #[arg(long)]
    alignment: Option<u64>,
    /// Object name.
    #[arg(long)]
    filename: Option<String>,
    /// Image to modify.
    image: PathBuf,
    /// File holding the object data.
    file: PathBuf,
}

/// `stockade sif del`.
#[derive(Debug, Args)]
pub struct DelArgs {
    /// Overwrite the object data with zeros.
    #[arg(long)]
    zero: bool,
    /// Truncate the file after the last remaining object.
    #[arg(long)]
    compact: bool,
    /// Image to modify.
    image: PathBuf,
    /// Object id.
    id: u32,
}

/// Creates an empty image.
pub fn new(a: NewArgs) -> anyhow::Result<()> {
    let mut b = Builder::new();
    if a.deterministic {
        b = b.deterministic();
    }
    if let Some(s) = &a.launch_script {
        b = b.launch_script(s);
    }
    if let Some(id) = &a.id {
        let raw = stockade_sif::parse_uuid(id).with_context(|| format!("invalid UUID {id:?}"))?;
        b = b.id(raw);
    }
    b.create(&a.image)?;
    Ok(())
}

/// Adds the object in `a.file` to the image.
pub fn add(a: AddArgs) -> anyhow::Result<()> {
    let dt = DataType::from_short_code(a.datatype)
        .with_context(|| format!("invalid --datatype {} (1..11)", a.datatype))?;
    let open = || File::open(&a.file).with_context(|| format!("cannot open {}", a.file.display()));
    let mut input = ObjectInput::new(dt, ObjectData::File(open()?)).group(Some(a.groupid));
    if let Some(id) = a.link {
        input = input.link(Link::Object(id));
    }
    if let Some(g) = a.linkgroup {
        input = input.link(Link::Group(g));
    }
    if let Some(n) = a.alignment {
        input = input.alignment(n);
    }
    if let Some(name) = &a.filename {
        input = input.name(name);
    }
    input = match dt {
        DataType::PARTITION => input.partition(partition_meta(&a)?),
        DataType::SIGNATURE => {
            let (ht, fp) = signature_meta(&a)?;
            input.signature(ht, &fp)
        }
        DataType::SBOM => {
            let name = a
                .sbomformat
                .as_deref()
                .context("--datatype 9 needs --sbomformat")?;
            let f = SbomFormat::from_name(name)
                .with_context(|| format!("invalid SBOM format {name:?}"))?;
            input.sbom(f)
        }
        DataType::OCI_BLOB | DataType::OCI_ROOT_INDEX => input.oci_digest(&sha256_of(&a.file)?),
        _ => input,
    };
    let mut img = SifImage::open_rw(&a.image)?;
    let id = img.add_object(input, TimeMode::Auto)?;
    tracing::info!(image = %a.image.display(), id, "added object");
    Ok(())
}

fn partition_meta(a: &AddArgs) -> anyhow::Result<PartitionMeta> {
    let (Some(pt), Some(fs), Some(arch)) = (a.parttype, a.partfs, a.partarch.as_deref()) else {
        bail!("with --datatype 4, --partfs, --parttype and --partarch must be passed");
    };
    if !(1..=4).contains(&pt) {
        bail!("invalid --parttype {pt} (1..4)");
    }
    if !(1..=6).contains(&fs) {
        bail!("invalid --partfs {fs} (1..6)");
    }
    let arch = arch
        .parse::<usize>()
        .ok()
        .and_then(Arch::from_number)
        .or_else(|| Arch::from_go_name(arch))
        .with_context(|| format!("invalid --partarch {arch:?}"))?;
    Ok(PartitionMeta {
        fs_type: FsType(fs),
        part_type: PartType(pt),
        arch,
    })
}

fn signature_meta(a: &AddArgs) -> anyhow::Result<(HashType, Vec<u8>)> {
    let ht = a.signhash.context("--datatype 5 needs --signhash")?;
    if !(1..=5).contains(&ht) {
        bail!("invalid --signhash {ht} (1..5)");
    }
    let hex = a
        .signentity
        .as_deref()
        .context("--datatype 5 needs --signentity")?;
    let fp = decode_fingerprint(hex)
        .with_context(|| format!("invalid --signentity {hex:?}: 40 hex digits expected"))?;
    Ok((HashType(ht), fp))
}

fn decode_fingerprint(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 40 || !hex.is_ascii() {
        return None;
    }
    (0..40)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = HashAlg::Sha256.hasher();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            return Ok(h.finalize().to_string());
        }
        h.update(&buf[..n]);
    }
}

/// Deletes one object.
pub fn del(a: DelArgs) -> anyhow::Result<()> {
    let mut img = SifImage::open_rw(&a.image)?;
    let opts = DeleteOptions {
        zero: a.zero,
        compact: a.compact,
        time: TimeMode::Auto,
    };
    img.delete_object(a.id, opts)?;
    Ok(())
}

/// Makes a system partition the primary one.
pub fn setprim(image: &Path, id: u32) -> anyhow::Result<()> {
    SifImage::open_rw(image)?.set_primary_partition(id, TimeMode::Auto)?;
    Ok(())
}
