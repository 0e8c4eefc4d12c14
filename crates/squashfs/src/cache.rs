// SPDX-License-Identifier: Apache-2.0
//! A sharded, byte-bounded cache of decompressed data and fragment blocks. A block being
//! decompressed is marked in flight, so a reader and the prefetcher never decompress the
//! same block twice: the second waits for the first.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::Result;

const SHARDS: usize = 16;

enum Slot {
    Ready(Arc<Vec<u8>>),
    Loading,
}

#[derive(Default)]
struct Inner {
    map: HashMap<u64, Slot>,
    fifo: VecDeque<(u64, usize)>,
    bytes: usize,
}

#[derive(Default)]
struct Shard {
    inner: Mutex<Inner>,
    ready: Condvar,
}

/// Decompressed blocks keyed by their image offset.
pub struct BlockCache {
    shards: Vec<Shard>,
    shard_cap: usize,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("shard_cap", &self.shard_cap)
            .finish()
    }
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl BlockCache {
    /// A cache holding about `cap_bytes` of decompressed data.
    pub fn new(cap_bytes: usize) -> Self {
        BlockCache {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            shard_cap: cap_bytes / SHARDS,
        }
    }

    fn shard(&self, key: u64) -> &Shard {
        let h = (key >> 12).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60;
        &self.shards[usize::try_from(h).unwrap_or(0) % SHARDS]
    }

    /// True when `key` is cached or being loaded.
    pub fn contains(&self, key: u64) -> bool {
        self.shard(key).lock().map.contains_key(&key)
    }

    /// The block at `key`, loading it with `load` when absent.
    pub fn get_or_load(
        &self,
        key: u64,
        load: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<Arc<Vec<u8>>> {
        let shard = self.shard(key);
        let mut g = shard.lock();
        loop {
            match g.map.entry(key) {
                Entry::Occupied(o) => match o.get() {
                    Slot::Ready(b) => return Ok(b.clone()),
                    Slot::Loading => g = shard.ready.wait(g).unwrap_or_else(|e| e.into_inner()),
                },
                Entry::Vacant(v) => {
                    v.insert(Slot::Loading);
                    break;
                }
            }
        }
        drop(g);
        let res = load();
        let mut g = shard.lock();
        let out = match res {
            Ok(v) => {
                let b = Arc::new(v);
                let len = b.len();
                g.map.insert(key, Slot::Ready(b.clone()));
                g.fifo.push_back((key, len));
                g.bytes += len;
                while g.bytes > self.shard_cap {
                    let Some((k, l)) = g.fifo.pop_front() else {
                        break;
                    };
                    g.map.remove(&k);
                    g.bytes -= l;
                }
                Ok(b)
            }
            Err(e) => {
                g.map.remove(&key);
                Err(e)
            }
        };
        shard.ready.notify_all();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_once_and_evicts() {
        let c = BlockCache::new(16 * 1024);
        let mut calls = 0;
        for _ in 0..3 {
            let b = c.get_or_load(4096, || {
                calls += 1;
                Ok(vec![1; 100])
            });
            assert_eq!(b.unwrap().len(), 100);
        }
        assert_eq!(calls, 1);
        // A failed load leaves nothing behind.
        assert!(
            c.get_or_load(8192, || Err(crate::ImageError::NotFound))
                .is_err()
        );
        assert!(!c.contains(8192));
        // Filling far past the bound evicts the oldest.
        for i in 0..10_000u64 {
            c.get_or_load(i << 12, || Ok(vec![0; 512])).unwrap();
        }
        assert!(!c.contains(0));
        assert!(c.contains(9_999 << 12));
    }
}
