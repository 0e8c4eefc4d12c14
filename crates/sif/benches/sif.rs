// SPDX-License-Identifier: Apache-2.0
//! `cargo bench -p stockade-sif`: prints load time of the corpus images and the throughput of
//! object hashing (SHA-256 / SHA-512) and image building. Figures only, no assertions.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use stockade_sif::{Builder, DataType, HashAlg, ObjectData, ObjectInput, SifImage};

fn main() {
    let corpus = stockade_testutil::sif("real-images/busybox_ppc64le.sif");
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        let img = SifImage::open(&corpus).unwrap();
        std::hint::black_box(img.descriptors().len());
    }
    let per = t.elapsed() / n;
    println!("open+validate busybox_ppc64le.sif: {per:?} per image");

    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("payload");
    let size: u64 = 512 << 20;
    std::fs::write(&payload, vec![0x5Au8; usize::try_from(size).unwrap()]).unwrap();
    let out = dir.path().join("big.sif");
    let t = Instant::now();
    let file = std::fs::File::open(&payload).unwrap();
    let input = ObjectInput::new(DataType::PARTITION, ObjectData::File(file));
    let img = Builder::new().object(input).create(&out).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "build 512 MiB image (kernel copy): {:.0} MiB/s",
        512.0 / secs
    );
    let d = img.descriptor(1).unwrap();
    for alg in [HashAlg::Sha256, HashAlg::Sha512] {
        let (t, cpu) = (Instant::now(), cpu_seconds());
        std::hint::black_box(img.object_digest(d, alg).unwrap());
        let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        println!(
            "{} object digest: {:.0} MiB/s wall, {:.0} MiB/s of CPU time",
            alg.name(),
            512.0 / wall,
            512.0 / cpu.max(0.01)
        );
    }
}

/// User + system CPU seconds of this process (from /proc/self/stat, 100 Hz ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}
