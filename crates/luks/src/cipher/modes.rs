// SPDX-License-Identifier: Apache-2.0
//! The block-mode arithmetic: XTS (single sector, and batches of small sectors) and
//! CBC with ESSIV.

use super::{Aes, CHUNK_BLOCKS};
use aes::Block;

/// Most sectors whose initial tweaks are computed in one AES call (8 × 512 B = 4 KiB).
const MAX_GROUP: usize = 8;

pub(super) fn load(b: &Block) -> u128 {
    u128::from_le_bytes(b.0)
}

pub(super) fn xor_into(b: &mut Block, v: u128) {
    b.0 = (load(b) ^ v).to_le_bytes();
}

/// Multiplication by α in GF(2¹²⁸) with the IEEE 1619 little-endian convention.
pub(super) fn mul_alpha(t: u128) -> u128 {
    (t << 1) ^ (0u128.wrapping_sub(t >> 127) & 0x87)
}

pub(super) fn xts(data_key: &Aes, tweak_key: &Aes, iv: u64, data: &mut [u8], encrypt: bool) {
    let mut t = Block::default();
    t.0[..8].copy_from_slice(&iv.to_le_bytes());
    tweak_key.encrypt_blocks(std::slice::from_mut(&mut t));
    let mut tw = load(&t);
    for chunk in data.chunks_mut(CHUNK_BLOCKS * 16) {
        let (blocks, _) = Block::slice_as_chunks_mut(chunk);
        // Whiten, run AES over the whole batch, then whiten again with the same tweaks
        // (recomputed: cheaper than storing them).
        let first = tw;
        for b in blocks.iter_mut() {
            xor_into(b, tw);
            tw = mul_alpha(tw);
        }
        if encrypt {
            data_key.encrypt_blocks(blocks);
        } else {
            data_key.decrypt_blocks(blocks);
        }
        let mut t = first;
        for b in blocks.iter_mut() {
            xor_into(b, t);
            t = mul_alpha(t);
        }
    }
}

pub(super) fn essiv_iv(essiv: &Aes, iv: u64) -> u128 {
    let mut b = Block::default();
    b.0[..8].copy_from_slice(&iv.to_le_bytes());
    essiv.encrypt_blocks(std::slice::from_mut(&mut b));
    load(&b)
}

pub(super) fn cbc_decrypt(key: &Aes, iv: u128, data: &mut [u8]) {
    let mut prev = iv;
    let mut saved = [0u128; CHUNK_BLOCKS];
    for chunk in data.chunks_mut(CHUNK_BLOCKS * 16) {
        let (blocks, _) = Block::slice_as_chunks_mut(chunk);
        for (b, slot) in blocks.iter().zip(saved.iter_mut()) {
            *slot = load(b);
        }
        key.decrypt_blocks(blocks);
        for (b, c) in blocks.iter_mut().zip(saved.iter()) {
            xor_into(b, prev);
            prev = *c;
        }
    }
}

pub(super) fn cbc_encrypt(key: &Aes, iv: u128, data: &mut [u8]) {
    let mut prev = iv;
    let (blocks, _) = Block::slice_as_chunks_mut(data);
    for b in blocks {
        xor_into(b, prev);
        key.encrypt_blocks(std::slice::from_mut(b));
        prev = load(b);
    }
}

/// Whitens every sector of `group` with its own tweak chain, starting from `starts[k]`.
fn whiten(group: &mut [u8], ss: usize, starts: &[Block]) {
    for (sector, t0) in group.chunks_exact_mut(ss).zip(starts) {
        let mut t = load(t0);
        let (blocks, _) = Block::slice_as_chunks_mut(sector);
        for b in blocks {
            xor_into(b, t);
            t = mul_alpha(t);
        }
    }
}

/// XTS over consecutive sectors: up to 4 KiB of sectors share one tweak-key call and one
/// data-key call, which keeps 512-byte sectors close to 4096-byte ones in speed.
pub(super) fn xts_sectors(
    k1: &Aes,
    k2: &Aes,
    ivs: (u64, u64),
    ss: usize,
    data: &mut [u8],
    encrypt: bool,
) {
    let (mut iv, step) = ivs;
    let per = (CHUNK_BLOCKS * 16).checked_div(ss).unwrap_or(0);
    if !ss.is_multiple_of(16) || !(1..=MAX_GROUP).contains(&per) {
        for sector in data.chunks_exact_mut(ss.max(16)) {
            xts(k1, k2, iv, sector, encrypt);
            iv = iv.wrapping_add(step);
        }
        return;
    }
    let mut starts = [Block::default(); MAX_GROUP];
    for group in data.chunks_mut(per * ss) {
        let n = group.len() / ss;
        let group = &mut group[..n * ss];
        for t in &mut starts[..n] {
            *t = Block::default();
            t.0[..8].copy_from_slice(&iv.to_le_bytes());
            iv = iv.wrapping_add(step);
        }
        k2.encrypt_blocks(&mut starts[..n]);
        whiten(group, ss, &starts[..n]);
        let (blocks, _) = Block::slice_as_chunks_mut(group);
        if encrypt {
            k1.encrypt_blocks(blocks);
        } else {
            k1.decrypt_blocks(blocks);
        }
        whiten(group, ss, &starts[..n]);
    }
}
