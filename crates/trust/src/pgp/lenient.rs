// SPDX-License-Identifier: Apache-2.0
//! Go's old `x/crypto/openpgp` (Singularity/Apptainer until 2021) wrote signature MPIs with a
//! bit count of `8 × length`, ignoring leading zero bits; Sequoia rejects such MPIs. Before
//! parsing, v4 signature packets are re-framed with minimal MPIs. The MPIs follow the hashed
//! part of the packet, so the signed data is unchanged; anything unexpected is passed through
//! untouched (and then rejected by Sequoia if it is really malformed).

use std::io::Read;

use sequoia_openpgp::armor;

/// OpenPGP packet tag of signatures.
const TAG_SIGNATURE: u8 = 2;

/// `binary` (a sequence of packets) with the MPIs of v4 signature packets made minimal.
pub fn normalize_signature_mpis(binary: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(binary.len());
    let mut rest = binary;
    while !rest.is_empty() {
        let Some((tag, hdr_len, body_len)) = header(rest) else {
            out.extend_from_slice(rest);
            break;
        };
        let Some(packet) = rest.get(..hdr_len + body_len) else {
            out.extend_from_slice(rest);
            break;
        };
        let body = &packet[hdr_len..];
        match (tag == TAG_SIGNATURE)
            .then(|| fix_v4_signature(body))
            .flatten()
        {
            Some(fixed) => {
                out.push(0xC0 | TAG_SIGNATURE);
                out.push(0xFF);
                out.extend_from_slice(&u32::try_from(fixed.len()).unwrap_or(0).to_be_bytes());
                out.extend_from_slice(&fixed);
            }
            None => out.extend_from_slice(packet),
        }
        rest = &rest[hdr_len + body_len..];
    }
    out
}

/// Binary packets of `bytes`: unchanged when binary, else every ASCII-armored block decoded
/// and concatenated (key files often hold several blocks).
pub fn dearmor_all(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let text = bytes.trim_ascii_start();
    if !text.starts_with(b"-----BEGIN PGP") {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    let starts: Vec<usize> = (0..text.len())
        .filter(|i| text[*i..].starts_with(b"-----BEGIN PGP") && (*i == 0 || text[*i - 1] == b'\n'))
        .collect();
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(text.len());
        let reader =
            armor::Reader::from_bytes(&text[*start..end], armor::ReaderMode::Tolerant(None));
        reader
            .take(bytes.len() as u64)
            .read_to_end(&mut out)
            .map_err(|e| format!("bad ASCII armor: {e}"))?;
    }
    Ok(out)
}

/// `(tag, header length, body length)`; `None` for partial/indeterminate lengths.
fn header(b: &[u8]) -> Option<(u8, usize, usize)> {
    let first = *b.first()?;
    if first & 0x80 == 0 {
        return None;
    }
    if first & 0x40 == 0 {
        let tag = (first >> 2) & 0x0F;
        let be = |n: usize| -> Option<usize> {
            let v = b.get(1..1 + n)?;
            Some(v.iter().fold(0usize, |acc, x| (acc << 8) | usize::from(*x)))
        };
        return match first & 3 {
            0 => Some((tag, 2, be(1)?)),
            1 => Some((tag, 3, be(2)?)),
            2 => Some((tag, 5, be(4)?)),
            _ => None,
        };
    }
    let tag = first & 0x3F;
    let o1 = usize::from(*b.get(1)?);
    match o1 {
        0..=191 => Some((tag, 2, o1)),
        192..=223 => Some((tag, 3, ((o1 - 192) << 8) + usize::from(*b.get(2)?) + 192)),
        255 => {
            let v = b.get(2..6)?;
            Some((
                tag,
                6,
                v.iter().fold(0usize, |acc, x| (acc << 8) | usize::from(*x)),
            ))
        }
        _ => None,
    }
}

/// The body with minimal MPIs, or `None` when nothing needs fixing or it is not a v4 body.
fn fix_v4_signature(body: &[u8]) -> Option<Vec<u8>> {
    if *body.first()? != 4 {
        return None;
    }
    let hashed = usize::from(u16::from_be_bytes([*body.get(4)?, *body.get(5)?]));
    let unhashed_at = 6 + hashed;
    let unhashed = usize::from(u16::from_be_bytes([
        *body.get(unhashed_at)?,
        *body.get(unhashed_at + 1)?,
    ]));
    let mpis_at = unhashed_at + 2 + unhashed + 2;
    let mut out = body.get(..mpis_at)?.to_vec();
    let mut rest = body.get(mpis_at..)?;
    let mut changed = false;
    while !rest.is_empty() {
        let bits = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
        let len = bits.div_ceil(8);
        let value = rest.get(2..2 + len)?;
        let start = value.iter().position(|b| *b != 0).unwrap_or(value.len());
        let v = &value[start..];
        let real_bits = v
            .first()
            .map_or(0, |f| (v.len() - 1) * 8 + (8 - f.leading_zeros() as usize));
        changed |= real_bits != bits;
        out.extend_from_slice(&u16::try_from(real_bits).ok()?.to_be_bytes());
        out.extend_from_slice(v);
        rest = &rest[2 + len..];
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_padded_mpi_and_keeps_good_packets() {
        // v4 sig body: ver, type, pk, hash, hashed len 0, unhashed len 0, left16, one MPI
        // declared as 16 bits holding 0x00 0x7F.
        let body = [4u8, 1, 1, 8, 0, 0, 0, 0, 0xAB, 0xCD, 0, 16, 0x00, 0x7F];
        let mut pkt = vec![0xC2, u8::try_from(body.len()).unwrap()];
        pkt.extend_from_slice(&body);
        let fixed = normalize_signature_mpis(&pkt);
        assert_eq!(&fixed[..2], &[0xC2, 0xFF]);
        assert_eq!(
            &fixed[6..],
            &[4u8, 1, 1, 8, 0, 0, 0, 0, 0xAB, 0xCD, 0, 7, 0x7F][..]
        );
        let good = [0xC2u8, 6, 4, 1, 1, 8, 0, 0];
        assert_eq!(normalize_signature_mpis(&good), good.to_vec());
        assert_eq!(normalize_signature_mpis(&[0x01, 2, 3]), vec![0x01, 2, 3]);
    }
}
