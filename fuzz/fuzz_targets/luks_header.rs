// SPDX-License-Identifier: Apache-2.0
//! Feeds arbitrary bytes to the LUKS2 header reader. The first byte picks the mode: raw bytes
//! as the start of a volume (binary headers, checksums, copy selection), or the rest as JSON
//! wrapped in two validly checksummed header copies, so the metadata validator is reached
//! despite the checksum. Must never panic or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stockade_luks::binhdr::{self, BinHeader};
use stockade_luks::{metadata::parse_metadata, parse_header};

const HDR: usize = 16384;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 {
        let _ = parse_header(rest);
        return;
    }
    let _ = std::str::from_utf8(rest).map(|j| parse_metadata(j, HDR as u64));
    let mut img = vec![0u8; 2 * HDR];
    for (secondary, at) in [(false, 0), (true, HDR)] {
        let h = BinHeader {
            secondary,
            hdr_size: HDR as u64,
            seqid: u64::from(mode >> 1),
            label: String::new(),
            uuid: "00000000-0000-4000-8000-000000000000".into(),
            subsystem: String::new(),
            hdr_offset: at as u64,
        };
        let Some(area) = binhdr::build_area(&h, &[0; 64], rest) else { return };
        img[at..at + HDR].copy_from_slice(&area);
    }
    let _ = parse_header(&img);
});
