// SPDX-License-Identifier: Apache-2.0
//! The LUKS anti-forensic splitter (`"af": {"type": "luks1"}`): a key of `n` bytes is stored
//! as `stripes` blocks of `n` bytes so that destroying any part of the keyslot area destroys
//! the key. Merge: `d = 0; for each of the first stripes-1 blocks s: d = H(d ⊕ s)`, then
//! `key = d ⊕ last`. `H` ("diffuse") hashes the buffer in digest-sized pieces, piece `i` as
//! `hash(be32(i) ‖ piece)`, truncating the last piece.

use crate::hash::HashAlg;
use zeroize::Zeroizing;

fn xor_into(acc: &mut [u8], src: &[u8]) {
    for (a, s) in acc.iter_mut().zip(src) {
        *a ^= s;
    }
}

fn diffuse(buf: &mut [u8], hash: HashAlg) {
    let mut out = Zeroizing::new([0u8; 64]);
    let hl = hash.output_len();
    for (i, piece) in buf.chunks_mut(hl).enumerate() {
        let idx = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
        hash.digest_into(&[&idx, piece], &mut out[..hl]);
        let n = piece.len();
        piece.copy_from_slice(&out[..n]);
    }
}

/// Recovers the key from split material of `key_len * stripes` bytes. `None` when the
/// material is shorter than that or a size is zero.
pub fn merge(
    material: &[u8],
    key_len: usize,
    stripes: usize,
    hash: HashAlg,
) -> Option<Zeroizing<Vec<u8>>> {
    if key_len == 0 || stripes == 0 || material.len() < key_len.checked_mul(stripes)? {
        return None;
    }
    let mut d = Zeroizing::new(vec![0u8; key_len]);
    let mut blocks = material.chunks_exact(key_len).take(stripes);
    for _ in 1..stripes {
        let s = blocks.next()?;
        xor_into(&mut d, s);
        diffuse(&mut d, hash);
    }
    xor_into(&mut d, blocks.next()?);
    Some(d)
}

/// Splits `key` into `stripes` blocks (random except the last), the inverse of [`merge`].
pub fn split(
    key: &[u8],
    stripes: usize,
    hash: HashAlg,
) -> Result<Zeroizing<Vec<u8>>, getrandom::Error> {
    let n = key.len();
    let mut out = Zeroizing::new(vec![0u8; n * stripes]);
    let mut d = Zeroizing::new(vec![0u8; n]);
    let (head, last) = out.split_at_mut(n * stripes.saturating_sub(1));
    getrandom::fill(head)?;
    for s in head.chunks_exact(n) {
        xor_into(&mut d, s);
        diffuse(&mut d, hash);
    }
    last.copy_from_slice(key);
    xor_into(last, &d);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_then_merge_returns_the_key_for_every_hash() {
        let key: Vec<u8> = (0..64u8).collect();
        for hash in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha512] {
            let m = split(&key, 4000, hash).expect("os rng");
            assert_eq!(m.len(), 64 * 4000);
            let back = merge(&m, 64, 4000, hash).expect("sizes fit");
            assert_eq!(&back[..], &key[..], "{hash:?}");
            // One flipped bit anywhere in the material changes the key.
            let mut bad = m.to_vec();
            bad[12345] ^= 1;
            assert_ne!(
                &merge(&bad, 64, 4000, hash).expect("sizes fit")[..],
                &key[..]
            );
        }
    }

    #[test]
    fn merge_rejects_short_material_and_zero_sizes() {
        assert!(merge(&[0; 100], 64, 2, HashAlg::Sha256).is_none());
        assert!(merge(&[0; 100], 0, 2, HashAlg::Sha256).is_none());
        assert!(merge(&[0; 100], 10, 0, HashAlg::Sha256).is_none());
        assert!(merge(&[0; 100], usize::MAX, 2, HashAlg::Sha256).is_none());
    }

    #[test]
    fn one_stripe_is_the_key_itself() {
        let m = split(b"0123456789abcdef", 1, HashAlg::Sha256).expect("os rng");
        assert_eq!(&m[..], b"0123456789abcdef");
    }
}
