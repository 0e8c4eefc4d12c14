// SPDX-License-Identifier: Apache-2.0
//! Read-ahead in user space: when a file is read, the next blocks are decompressed into the
//! block cache by background threads, so the kernel's next read requests find them ready.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::ServeError;
use crate::archive::Archive;
use crate::inode::FileData;

/// Pending jobs before new ones are dropped.
const QUEUE: usize = 64;

struct Job {
    file: Arc<FileData>,
    from: u64,
    to: u64,
}

/// Background decompression of blocks ahead of readers.
pub(super) struct Prefetcher {
    tx: Mutex<Option<SyncSender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Prefetcher {
    /// No threads yet: requests are dropped until [`Prefetcher::launch`].
    pub fn idle() -> Self {
        Prefetcher {
            tx: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// Starts `n` threads (none: prefetch stays disabled).
    pub fn launch(&self, archive: &Arc<Archive>, n: usize) -> Result<(), ServeError> {
        if n == 0 {
            return Ok(());
        }
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            let (a, rx) = (archive.clone(), rx.clone());
            let t = std::thread::Builder::new()
                .name(format!("prefetch-{i}"))
                .spawn(move || run(&a, &rx))
                .map_err(ServeError::Thread)?;
            // kept for shutdown even if a later spawn fails (they exit when tx drops)
            self.threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(t);
        }
        *self.tx.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        Ok(())
    }

    /// Asks for blocks `from..to` of `file` (dropped when the queue is full).
    pub fn request(&self, file: &Arc<FileData>, from: u64, to: u64) {
        let g = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = g.as_ref() {
            match tx.try_send(Job {
                file: file.clone(),
                from,
                to,
            }) {
                Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }

    /// Stops the threads.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

fn run(archive: &Archive, rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
            match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            }
        };
        let f = &job.file;
        let (Ok(from), Ok(to)) = (usize::try_from(job.from), usize::try_from(job.to)) else {
            continue;
        };
        let to = to.min(f.blocks.len());
        if from >= to {
            continue;
        }
        let start = f.offsets[from];
        let end = f.offsets[to - 1] + u64::from(f.blocks[to - 1] & 0x00ff_ffff);
        archive.source().will_need(start, end.saturating_sub(start));
        for i in job.from..job.to {
            archive.prefetch(f, i);
        }
    }
}
