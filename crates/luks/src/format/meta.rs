// SPDX-License-Identifier: Apache-2.0
//! The metadata region of a new volume: both header copies, the JSON, keyslot 0's area.

use super::*;

fn keyslot_kdf(choice: KdfChoice, salt: Vec<u8>) -> Kdf {
    match choice {
        KdfChoice::Argon2id {
            time,
            memory_kib,
            lanes,
        } => Kdf::Argon2 {
            variant: Argon2Variant::Id,
            time,
            memory_kib,
            lanes,
            salt,
        },
        KdfChoice::Pbkdf2Sha256 { iterations } => Kdf::Pbkdf2 {
            hash: HashAlg::Sha256,
            iterations,
            salt,
        },
    }
}

fn kdf_json(kdf: &Kdf) -> Result<serde_json::Value, FormatError> {
    let v = match kdf {
        Kdf::Argon2 {
            time,
            memory_kib,
            lanes,
            salt,
            ..
        } => serde_json::to_value(json::Argon2 {
            kind: kdf.type_name().into(),
            time: *time,
            memory: *memory_kib,
            cpus: *lanes,
            salt: b64(salt),
        }),
        Kdf::Pbkdf2 {
            hash,
            iterations,
            salt,
        } => serde_json::to_value(json::Pbkdf2 {
            kind: "pbkdf2".into(),
            hash: hash.name().into(),
            iterations: *iterations,
            salt: b64(salt),
        }),
    };
    v.map_err(|_| FormatError::Options("kdf parameters"))
}

/// Encrypts keyslot 0's anti-forensic material with the key derived from `secret`.
fn keyslot_area(
    kdf: &Kdf,
    secret: &[u8],
    volume_key: &[u8],
) -> Result<Zeroizing<Vec<u8>>, FormatError> {
    let area_key = kdf.derive(secret, KEY_SIZE).map_err(FormatError::Kdf)?;
    let cipher = SectorCipher::new(CipherSpec::AesXtsPlain64, &area_key)
        .map_err(|_| FormatError::Options("area key"))?;
    let split =
        af::split(volume_key, STRIPES as usize, HashAlg::Sha256).map_err(FormatError::Random)?;
    let mut area = Zeroizing::new(vec![0u8; split.len().div_ceil(512) * 512]);
    area[..split.len()].copy_from_slice(&split);
    cipher.encrypt_sectors(0, 1, 512, &mut area);
    Ok(area)
}

fn to_value<T: serde::Serialize>(v: T) -> Result<serde_json::Value, FormatError> {
    serde_json::to_value(v).map_err(|_| FormatError::Options("metadata"))
}

fn metadata_json(
    opts: &FormatOptions,
    kdf: &Kdf,
    volume_key: &[u8],
) -> Result<String, FormatError> {
    let digest_salt: [u8; 32] = random()?;
    let mut digest = [0u8; 32];
    HashAlg::Sha256.pbkdf2(volume_key, &digest_salt, DIGEST_ITERATIONS, &mut digest);
    let xts = CipherSpec::AesXtsPlain64.name().to_owned();
    let keyslot = json::Keyslot {
        kind: "luks2".into(),
        key_size: KEY_SIZE_JSON,
        af: json::Af {
            kind: "luks1".into(),
            stripes: STRIPES,
            hash: "sha256".into(),
        },
        area: json::Area {
            kind: "raw".into(),
            offset: KEYSLOT_OFFSET.to_string(),
            size: keyslot_area_size().to_string(),
            encryption: xts.clone(),
            key_size: KEY_SIZE_JSON,
        },
        kdf: kdf_json(kdf)?,
        priority: None,
    };
    let segment = json::Segment {
        kind: "crypt".into(),
        offset: opts.data_offset.to_string(),
        size: "dynamic".into(),
        iv_tweak: "0".into(),
        encryption: xts,
        sector_size: opts.sector_size,
        integrity: None,
        flags: None,
    };
    let digest = json::Digest {
        kind: "pbkdf2".into(),
        keyslots: vec!["0".into()],
        segments: vec!["0".into()],
        hash: "sha256".into(),
        iterations: DIGEST_ITERATIONS,
        salt: b64(&digest_salt),
        digest: b64(&digest),
    };
    let root = json::Root {
        keyslots: BTreeMap::from([("0".to_owned(), to_value(keyslot)?)]),
        tokens: BTreeMap::new(),
        segments: BTreeMap::from([("0".to_owned(), to_value(segment)?)]),
        digests: BTreeMap::from([("0".to_owned(), to_value(digest)?)]),
        config: json::Config {
            json_size: (HDR_SIZE - binhdr::BIN_SIZE as u64).to_string(),
            keyslots_size: (opts.data_offset - KEYSLOT_OFFSET).to_string(),
            flags: None,
            requirements: None,
        },
    };
    serde_json::to_string(&root).map_err(|_| FormatError::Options("metadata"))
}

/// The first `opts.data_offset` bytes of the volume.
pub(super) fn build(
    opts: &FormatOptions,
    secret: &[u8],
    volume_key: &[u8],
) -> Result<Zeroizing<Vec<u8>>, FormatError> {
    let kdf = keyslot_kdf(opts.kdf, random::<32>()?.to_vec());
    kdf.validate().map_err(FormatError::Kdf)?;
    let json = metadata_json(opts, &kdf, volume_key)?;
    let area = keyslot_area(&kdf, secret, volume_key)?;
    let size =
        usize::try_from(opts.data_offset).map_err(|_| FormatError::Options("data offset"))?;
    let mut region = Zeroizing::new(vec![0u8; size]);
    let uuid = new_uuid()?;
    for (secondary, at) in [(false, 0usize), (true, HDR_BYTES)] {
        let h = BinHeader {
            secondary,
            hdr_size: HDR_SIZE,
            seqid: 1,
            label: opts.label.clone(),
            uuid: uuid.clone(),
            subsystem: String::new(),
            hdr_offset: at as u64,
        };
        let bytes = binhdr::build_area(&h, &random::<64>()?, json.as_bytes())
            .ok_or(FormatError::Options("metadata does not fit the JSON area"))?;
        region[at..at + bytes.len()].copy_from_slice(&bytes);
    }
    let k = KEYSLOT_BYTES;
    region[k..k + area.len()].copy_from_slice(&area);
    Ok(region)
}
