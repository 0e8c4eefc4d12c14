// SPDX-License-Identifier: Apache-2.0
//! Feeds arbitrary bytes to every parser of `stockade-trust` that reads admin- or
//! tenant-controlled data: `ecl.toml`, OpenPGP keyrings (armored or binary, with the
//! Go-MPI normaliser), cleartext-signed signature objects, DSSE envelopes, PEM keys and
//! certificates. The first byte picks the parser. Must never panic or allocate without
//! bound.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stockade_trust::{dsse, ecl, pem, pgp, x509, Keyring, PrivateKey, PublicKey};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 6 {
        0 => {
            let _ = ecl::parse(rest);
        }
        1 => {
            if let Ok(ring) = Keyring::from_bytes(rest, Path::new("fuzz")) {
                let _ = ring.to_bytes(true);
                let _ = ring.digest();
            }
        }
        2 => {
            if let Ok(ct) = pgp::clearsign::parse(rest) {
                let _ = ct.is_legacy();
                let _ = ct.canonical_text();
                let _ = pgp::verify_cleartext(&ct, &Keyring::new(), std::time::SystemTime::now());
            }
        }
        3 => {
            if dsse::is_sif_envelope(rest) {
                if let Ok(env) = dsse::parse(rest) {
                    let _ = dsse::pae(&env.payload_type, &env.payload);
                }
            }
        }
        4 => {
            let _ = pem::parse(rest);
            let _ = PublicKey::from_pem(rest);
            let _ = PrivateKey::from_pem(rest);
        }
        _ => {
            let _ = x509::verify_leaf(rest, Some(rest), rest, std::time::SystemTime::now());
        }
    }
});
