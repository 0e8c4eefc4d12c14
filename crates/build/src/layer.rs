// SPDX-License-Identifier: Apache-2.0
//! One layer blob → the tree: the compressed bytes are hashed (checked against the layer's
//! digest when it has one), decompressed by sniffed magic (gzip, zstd or plain tar) and
//! applied by the [`Extractor`].

use std::cell::Cell;
use std::io::{self, BufReader, Read};
use std::rc::Rc;

use sha2::{Digest, Sha256};

use crate::blobs::Blob;
use crate::error::BuildError;
use crate::extract::{ExtractError, Extractor};
use crate::tar::{Stream, TarReader};

/// Reads a blob while hashing it and counting bytes (shared with the progress callback).
struct Hashing {
    inner: Blob,
    hasher: Sha256,
    count: Rc<Cell<u64>>,
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

enum Decoder {
    Plain(BufReader<Hashing>),
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<Hashing>>>),
    Zstd(Box<zstd::Decoder<'static, BufReader<Hashing>>>),
}

impl Read for Decoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

impl Decoder {
    fn new(blob: Hashing) -> io::Result<Decoder> {
        let mut r = BufReader::with_capacity(1 << 20, blob);
        let head = io::BufRead::fill_buf(&mut r)?;
        Ok(if head.starts_with(&[0x1f, 0x8b]) {
            Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(r)))
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Decoder::Zstd(Box::new(zstd::Decoder::with_buffer(r)?))
        } else {
            Decoder::Plain(r)
        })
    }

    fn into_raw(self) -> Hashing {
        match self {
            Decoder::Plain(r) => r.into_inner(),
            Decoder::Gzip(r) => r.into_inner().into_inner(),
            Decoder::Zstd(r) => r.finish().into_inner(),
        }
    }
}

/// Applies the layer `blob` (named `layer` in messages, from `source`). `digest`, when
/// given (`sha256:<hex>`), must match the blob bytes. `tick(bytes)` reports progress.
pub fn apply_layer(
    ex: &mut Extractor,
    source: &std::path::Path,
    layer: &str,
    blob: Blob,
    digest: Option<&str>,
    tick: &mut dyn FnMut(u64),
) -> Result<(), BuildError> {
    let count = Rc::new(Cell::new(0u64));
    let hashing = Hashing {
        inner: blob,
        hasher: Sha256::new(),
        count: count.clone(),
    };
    let layer_err = |e: ExtractError| BuildError::Layer {
        path: source.to_path_buf(),
        layer: layer.to_string(),
        source: e,
    };
    let io_layer = |e: io::Error| {
        layer_err(ExtractError::Io {
            member: String::new(),
            step: "read the layer",
            source: e,
        })
    };
    let dec = Decoder::new(hashing).map_err(io_layer)?;
    let mut tar = TarReader::new(Stream(dec));
    let mut last = 0;
    ex.apply(&mut tar, &mut || {
        let now = count.get();
        if now >= last + (1 << 20) {
            tick(now - last);
            last = now;
        }
    })
    .map_err(layer_err)?;
    let Stream(dec) = tar.into_inner();
    let mut raw = dec.into_raw();
    io::copy(&mut raw, &mut io::sink()).map_err(io_layer)?;
    tick(count.get() - last);
    if let Some(want) = digest {
        let got = format!("sha256:{}", hex(&raw.hasher.finalize()));
        if want.starts_with("sha256:") && got != want {
            return Err(BuildError::Archive {
                path: source.to_path_buf(),
                member: layer.to_string(),
                problem: format!("digest mismatch: content is {got}"),
            });
        }
    }
    Ok(())
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
