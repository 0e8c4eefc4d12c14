// SPDX-License-Identifier: Apache-2.0
//! Object digests for one verification run: each (object, algorithm) is hashed once even
//! when several signatures cover it, and large objects are read by a helper thread in 4 MiB
//! positioned reads while the caller hashes the previous chunk (two buffers in flight). The
//! thread is scoped: it has ended when the digest is returned, so the process is
//! single-threaded again before anything clones a container.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::sync::mpsc;

use stockade_sif::{Descriptor, Digest, HashAlg, ReadAt, SifImage};

use super::report::Failure;

/// Read size of the pipelined reader.
pub const CHUNK: usize = 4 << 20;
/// Below this size an object is hashed inline (no thread).
pub const THREAD_THRESHOLD: u64 = 16 << 20;

/// Per-run digest cache.
pub(super) struct Digests<'a, S: ReadAt> {
    img: &'a SifImage<S>,
    done: RefCell<HashMap<(u32, HashAlg), Digest>>,
}

impl<'a, S: ReadAt + Sync> Digests<'a, S> {
    pub(super) fn new(img: &'a SifImage<S>) -> Self {
        Self {
            img,
            done: RefCell::new(HashMap::new()),
        }
    }

    /// Digest of the data of `d`.
    pub(super) fn object(&self, d: &Descriptor, alg: HashAlg) -> Result<Digest, Failure> {
        if let Some(v) = self.done.borrow().get(&(d.id(), alg)) {
            return Ok(v.clone());
        }
        let v = hash_range(self.img.source(), d.offset(), d.size(), alg)
            .map_err(|e| Failure::Read(format!("object {}: {e}", d.id())))?;
        self.done.borrow_mut().insert((d.id(), alg), v.clone());
        Ok(v)
    }
}

/// Hashes `[offset, offset+len)` of `src` with `alg`.
pub fn hash_range<S: ReadAt + Sync + ?Sized>(
    src: &S,
    offset: u64,
    len: u64,
    alg: HashAlg,
) -> io::Result<Digest> {
    let mut h = alg.hasher();
    if len < THREAD_THRESHOLD {
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(CHUNK).min(CHUNK)];
        let mut pos = 0u64;
        while pos < len {
            let n = chunk_len(len - pos);
            src.read_exact_at(&mut buf[..n], offset + pos)?;
            h.update(&buf[..n]);
            pos += n as u64;
        }
        return Ok(h.finalize());
    }
    // Two buffers circulate: reader fills one while the caller hashes the other.
    let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(1);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<Vec<u8>>(2);
    for _ in 0..2 {
        let _ = empty_tx.send(vec![0u8; CHUNK]);
    }
    std::thread::scope(move |s| {
        s.spawn(move || {
            let mut pos = 0u64;
            while pos < len {
                let Ok(mut buf) = empty_rx.recv() else { return };
                let n = chunk_len(len - pos);
                let r = src
                    .read_exact_at(&mut buf[..n], offset + pos)
                    .map(|()| (buf, n));
                let failed = r.is_err();
                if full_tx.send(r).is_err() || failed {
                    return;
                }
                pos += n as u64;
            }
        });
        let mut pos = 0u64;
        while pos < len {
            let (buf, n) = full_rx
                .recv()
                .map_err(|_| io::Error::other("reader thread stopped"))??;
            h.update(&buf[..n]);
            pos += n as u64;
            let _ = empty_tx.send(buf);
        }
        drop(empty_tx);
        Ok(h.finalize())
    })
}

fn chunk_len(remaining: u64) -> usize {
    usize::try_from(remaining).unwrap_or(CHUNK).min(CHUNK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelined_equals_inline() {
        let n = usize::try_from(THREAD_THRESHOLD).unwrap() + 3 * CHUNK + 17;
        let data: Vec<u8> = (0..n).map(|i| u8::try_from(i * 7 % 251).unwrap()).collect();
        let len = data.len() as u64 - 5;
        let piped = hash_range(&data, 5, len, HashAlg::Sha256).unwrap();
        assert_eq!(piped, HashAlg::Sha256.digest(&data[5..]));
        let small = hash_range(&data, 1, 1000, HashAlg::Sha384).unwrap();
        assert_eq!(small, HashAlg::Sha384.digest(&data[1..1001]));
        let err = hash_range(&data, 10, len, HashAlg::Sha256);
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
