// SPDX-License-Identifier: Apache-2.0
//! Known-answer tests for the sector ciphers (IEEE 1619-2007 Annex B vectors).

use super::modes::{mul_alpha, xor_into};
use super::*;

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex is valid"))
        .collect()
}

fn check_xts(key: &str, sector: u64, ptx: &[u8], ctx: &str) {
    let c = SectorCipher::new(CipherSpec::AesXtsPlain64, &hex(key)).expect("valid test key");
    let mut buf = ptx.to_vec();
    c.encrypt_sector(sector, &mut buf);
    assert_eq!(buf, hex(ctx), "encrypt, sector {sector:#x}");
    c.decrypt_sector(sector, &mut buf);
    assert_eq!(buf, ptx, "decrypt, sector {sector:#x}");
}

#[test]
fn xts_aes128_ieee1619_vectors_1_to_3() {
    let z = "00000000000000000000000000000000";
    check_xts(
        &format!("{z}{z}"),
        0,
        &[0; 32],
        "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e",
    );
    let k2 = "11111111111111111111111111111111 22222222222222222222222222222222";
    let p = [0x44u8; 32];
    check_xts(
        k2,
        0x33_3333_3333,
        &p,
        "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0",
    );
    let k3 = "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0 22222222222222222222222222222222";
    check_xts(
        k3,
        0x33_3333_3333,
        &p,
        "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89",
    );
}

const V10_CTX: &str = "
1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b5d31e276f8fe4a8d66b317f9ac683f44
680a86ac35adfc3345befecb4bb188fd5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0
c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca2a3e7a7d7df7b10355165c8b9a6d0a7d
e8b062c4500dc4cd120c0f7418dae3d0b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f
93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec583e9645e07b8d9670655ba5bbcfecc6
dc3966380ad8fecb17b6ba02469a020a84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1
505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae9be69a2ffeceb1bec9de244fbe15992b
11b77c040f12bd8f6a975a44a0f90c29a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac
6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f645e8b7e9bfdef33943054ff84011493
c27b3429eaedb4ed5376441a77ed43851ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa
773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151";

#[test]
fn xts_aes256_ieee1619_vector_10_full_512_byte_sector() {
    let key = "2718281828459045235360287471352662497757247093699959574966967627
               3141592653589793238462643383279502884197169399375105820974944592";
    let ptx: Vec<u8> = (0..=255u8).cycle().take(512).collect();
    check_xts(key, 0xff, &ptx, V10_CTX);
}

#[test]
fn xts_large_sector_chains_tweak_across_batches() {
    // An 8 KiB unit spans two 4 KiB AES batches: the tweak must continue, so encrypting it
    // whole must equal XTS computed block by block with the spec's formula.
    let key: Vec<u8> = (0..64u8).collect();
    let c = SectorCipher::new(CipherSpec::AesXtsPlain64, &key).expect("valid key");
    let ptx: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut whole = ptx.clone();
    c.encrypt_sector(42, &mut whole);
    let k1 = Aes256::new_from_slice(&key[..32]).expect("32 bytes");
    let k2 = Aes256::new_from_slice(&key[32..]).expect("32 bytes");
    let mut t = Block::default();
    t.0[..8].copy_from_slice(&42u64.to_le_bytes());
    k2.encrypt_block(&mut t);
    let mut tw = u128::from_le_bytes(t.0);
    for (i, chunk) in ptx.chunks(16).enumerate() {
        let mut b = Block::default();
        b.0.copy_from_slice(chunk);
        xor_into(&mut b, tw);
        k1.encrypt_block(&mut b);
        xor_into(&mut b, tw);
        assert_eq!(&b.0[..], &whole[i * 16..i * 16 + 16], "block {i}");
        tw = mul_alpha(tw);
    }
}

#[test]
fn cbc_essiv_round_trips_and_chains() {
    let key = [7u8; 32];
    let c = SectorCipher::new(CipherSpec::AesCbcEssivSha256, &key).expect("valid key");
    let ptx: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8).collect();
    let mut buf = ptx.clone();
    c.encrypt_sector(9, &mut buf);
    assert_ne!(buf, ptx);
    // Same plaintext in another sector gives another ciphertext (ESSIV differs).
    let mut other = ptx.clone();
    c.encrypt_sector(10, &mut other);
    assert_ne!(buf[..16], other[..16]);
    c.decrypt_sector(9, &mut buf);
    assert_eq!(buf, ptx);
}

#[test]
fn bad_specs_and_key_lengths_are_rejected() {
    assert!(CipherSpec::parse("serpent-xts-plain64").is_err());
    assert!(CipherSpec::parse("aes-xts-plain").is_err());
    assert!(SectorCipher::new(CipherSpec::AesXtsPlain64, &[0; 16]).is_err());
    assert!(SectorCipher::new(CipherSpec::AesCbcEssivSha256, &[0; 64]).is_err());
    for len in [32, 48, 64] {
        assert!(SectorCipher::new(CipherSpec::AesXtsPlain64, &vec![1; len]).is_ok());
    }
}

#[test]
fn key_schedules_are_wiped_on_drop() {
    // The volume key lives on only in these schedules; the `aes` crate's `zeroize` feature
    // must stay enabled (workspace Cargo.toml) or this stops compiling.
    fn wiped<T: zeroize::ZeroizeOnDrop>() {}
    wiped::<Aes128>();
    wiped::<Aes192>();
    wiped::<Aes256>();
}

#[test]
fn batched_sectors_equal_one_by_one_for_every_size() {
    let key: Vec<u8> = (100..164u8).collect();
    let data: Vec<u8> = (0..=255u8).cycle().take(64 * 1024 + 512).collect();
    for spec in [CipherSpec::AesXtsPlain64, CipherSpec::AesCbcEssivSha256] {
        let c = SectorCipher::new(
            spec,
            &key[..if spec == CipherSpec::AesXtsPlain64 {
                64
            } else {
                32
            }],
        )
        .expect("valid key");
        for (ss, step) in [
            (512usize, 1u64),
            (1024, 2),
            (2048, 4),
            (4096, 8),
            (8192, 16),
            (48, 3),
        ] {
            let n = data.len() / ss * ss;
            let mut one = data[..n].to_vec();
            for (k, s) in one.chunks_exact_mut(ss).enumerate() {
                c.encrypt_sector(77 + k as u64 * step, s);
            }
            let mut batch = data[..n].to_vec();
            c.encrypt_sectors(77, step, ss, &mut batch);
            assert!(one == batch, "{spec:?} encrypt, sector {ss}");
            c.decrypt_sectors(77, step, ss, &mut batch);
            assert!(batch == data[..n], "{spec:?} decrypt, sector {ss}");
        }
    }
}
