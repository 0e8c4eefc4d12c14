// SPDX-License-Identifier: Apache-2.0
//! `cargo bench -p stockade-luks`: user-space LUKS2 figures next to the peers'.
//!
//! * sector decryption (AES-256-XTS, in memory) vs `openssl speed -evp aes-256-xts`;
//! * `Volume::read_at` over a page-cached 256 MiB payload, single thread, 1 MiB reads;
//! * `format` (encrypt + write);
//! * unlock time of our default passphrase keyslot and of a cryptsetup-default one, vs
//!   `cryptsetup open --test-passphrase` on the same volume.

use std::fs::File;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use stockade_luks::cipher::{CipherSpec, SectorCipher};
use stockade_luks::{FormatOptions, Volume, format};

const MIB: f64 = 1024.0 * 1024.0;

/// CPU time of this thread (user + system), from `/proc/thread-self/schedstat`: on a shared
/// 2-core machine wall-clock throughput mostly measures the neighbours. `openssl speed`
/// reports per CPU time too.
fn cpu_time() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns: u64 = s
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("runtime ns");
    Duration::from_nanos(ns)
}

/// Starts a CPU-time measurement.
struct Clock(Duration);

impl Clock {
    fn start() -> Self {
        Self(cpu_time())
    }
    fn elapsed(&self) -> Duration {
        cpu_time() - self.0
    }
}

fn rate(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / MIB / d.as_secs_f64()
}

fn bench_sectors(ss: usize) -> f64 {
    let c = SectorCipher::new(CipherSpec::AesXtsPlain64, &[7u8; 64]).expect("64-byte key");
    let mut buf = vec![1u8; 64 << 20];
    let t = Clock::start();
    for (i, run) in buf.chunks_mut(1 << 20).enumerate() {
        c.decrypt_sectors(i as u64 * 2048, ss as u64 / 512, ss, run);
    }
    rate(buf.len(), t.elapsed())
}

/// The ceiling: raw AES-256 block decryption (ECB) with the `aes` crate's best backend.
fn bench_raw_aes() -> f64 {
    use aes::cipher::{BlockCipherDecrypt, KeyInit};
    let c = aes::Aes256::new_from_slice(&[7u8; 32]).expect("32-byte key");
    let mut buf = vec![1u8; 64 << 20];
    let (blocks, _) = aes::Block::slice_as_chunks_mut(&mut buf);
    let t = Clock::start();
    for run in blocks.chunks_mut(256) {
        c.decrypt_blocks(run);
    }
    rate(64 << 20, t.elapsed())
}

fn openssl_xts() -> Option<f64> {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "aes-256-xts",
            "-seconds",
            "2",
            "-bytes",
            "4096",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    // Last line: "AES-256-XTS  <bytes/s in thousands>k"
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .rev()
        .find(|l| l.to_ascii_lowercase().contains("xts"))?;
    let k: f64 = last
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(k * 1000.0 / MIB)
}

fn bench_volume(dir: &std::path::Path, ss: u32) -> (f64, f64) {
    let path = dir.join(format!("bench{ss}"));
    let plain = vec![0x5au8; 256 << 20];
    let mut f = File::create(&path).expect("create");
    let key = [9u8; 64];
    let opts = FormatOptions {
        sector_size: ss,
        ..FormatOptions::random_key()
    };
    let t = Clock::start();
    let n = format(&mut f, 0, &mut &plain[..], plain.len() as u64, &key, opts).expect("format");
    let write = rate(plain.len(), t.elapsed());
    drop(f);
    let f = File::open(&path).expect("open");
    let v = Volume::open(&f, 0, n, &key).expect("unlock");
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0;
    while v.read_at(&mut buf, pos).expect("warm") > 0 {
        pos += buf.len() as u64;
    }
    let t = Clock::start();
    let (mut pos, mut total) = (0u64, 0usize);
    loop {
        let got = v.read_at(&mut buf, pos).expect("read");
        if got == 0 {
            break;
        }
        total += got;
        pos += got as u64;
    }
    (rate(total, t.elapsed()), write)
}

fn time_open(path: &std::path::Path, len: u64, pass: &[u8]) -> Duration {
    let f = File::open(path).expect("open");
    let t = Instant::now();
    Volume::open(&f, 0, len, pass).expect("unlock");
    t.elapsed()
}

fn time_cryptsetup(path: &std::path::Path, pass: &[u8]) -> Option<Duration> {
    let t = Instant::now();
    let mut c = Command::new("cryptsetup")
        .args(["open", "--test-passphrase", "--key-file", "-"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .ok()?;
    c.stdin.take()?.write_all(pass).ok()?;
    c.wait().ok()?.success().then(|| t.elapsed())
}

fn bench_unlock(dir: &std::path::Path) {
    let ours = dir.join("ours-default");
    let mut f = File::create(&ours).expect("create");
    let n = format(
        &mut f,
        0,
        &mut &[0u8; 4096][..],
        4096,
        b"passphrase",
        FormatOptions::default(),
    )
    .expect("format");
    let t = time_open(&ours, n, b"passphrase");
    let cs = time_cryptsetup(&ours, b"passphrase");
    println!("unlock, our default (argon2id t=4 m=256MiB p=4): ours {t:.2?}  cryptsetup {cs:.2?}");
    let theirs = dir.join("cryptsetup-default");
    File::create(&theirs)
        .and_then(|f| f.set_len(20 << 20))
        .expect("create");
    let mut c = Command::new("cryptsetup")
        .args(["luksFormat", "--type", "luks2", "-q", "--key-file", "-"])
        .arg(&theirs)
        .stdin(Stdio::piped())
        .spawn()
        .expect("cryptsetup (scripts/setup installs it)");
    c.stdin
        .take()
        .expect("piped")
        .write_all(b"passphrase")
        .expect("stdin");
    assert!(c.wait().expect("wait").success(), "luksFormat");
    let t = time_open(&theirs, 20 << 20, b"passphrase");
    let cs = time_cryptsetup(&theirs, b"passphrase");
    println!(
        "unlock, cryptsetup default (Apptainer's):          ours {t:.2?}  cryptsetup {cs:.2?}"
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    println!("stockade-luks, single thread, MiB per CPU-second (higher is better)");
    let peer = openssl_xts().map_or("n/a".to_owned(), |r| format!("{r:.0}"));
    println!(
        "aes-256-xts decrypt, 4096 B sectors, memory: ours {:.0}  openssl {peer}",
        bench_sectors(4096)
    );
    println!(
        "aes-256-xts decrypt,  512 B sectors, memory: ours {:.0}",
        bench_sectors(512)
    );
    println!(
        "aes-256 raw block decrypt (ceiling for ours): {:.0}",
        bench_raw_aes()
    );
    for ss in [4096, 512] {
        let (read, write) = bench_volume(dir.path(), ss);
        println!(
            "Volume::read_at 1 MiB, {ss:4} B sectors, cached: {read:.0}   format (encrypt+write): {write:.0}"
        );
    }
    bench_unlock(dir.path());
}
