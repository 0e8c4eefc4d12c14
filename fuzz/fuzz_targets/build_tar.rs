// SPDX-License-Identifier: Apache-2.0
//! Arbitrary bytes as an image layer (tar stream, the way `stockade build` reads a
//! decompressed layer): every member header is parsed (ustar, GNU long names, PAX records),
//! every member's data read to its end, and every path and link target cleaned as extraction
//! does before touching the tree. Must never panic, hang or allocate beyond the bounds
//! declared next to the reader (`MAX_NAME`, `MAX_PAX`, `MAX_XATTRS`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stockade_build::extract::{MAX_COMPONENT, clean};
use stockade_build::tar::{MAX_NAME, MAX_XATTRS, Stream, TarReader};

fuzz_target!(|data: &[u8]| {
    let mut tar = TarReader::new(Stream(data));
    let mut buf = [0u8; 4096];
    while let Ok(Some(e)) = tar.next_entry() {
        assert!(e.path.len() as u64 <= MAX_NAME && e.link.len() as u64 <= MAX_NAME);
        assert!(e.xattrs.len() <= MAX_XATTRS);
        for p in [&e.path, &e.link] {
            if let Ok(c) = clean(p) {
                let ok = |s: &[u8]| !s.is_empty() && s != b"." && s != b".." && s.len() <= MAX_COMPONENT;
                assert!(c.is_empty() || c.split(|b| *b == b'/').all(ok));
            }
        }
        let mut got = 0u64;
        loop {
            match tar.read_data(&mut buf) {
                Ok(0) => break,
                Ok(n) => got += n as u64,
                Err(_) => return,
            }
        }
        assert_eq!(got, e.size);
        assert!(tar.position() <= data.len() as u64);
    }
});
