// SPDX-License-Identifier: Apache-2.0
//! Helpers shared by `key`, `sign` and `verify`: keyring locations, passphrases, bounded
//! file reads, time formatting.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use stockade_trust::Keyring;
use stockade_trust::pgp::GLOBAL_KEYRING;

/// Largest key, certificate or passphrase file read.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// `~/.stockade/keys`.
pub fn user_keys_dir() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    let home = home.context("HOME is not set: cannot locate ~/.stockade/keys")?;
    Ok(PathBuf::from(home).join(".stockade/keys"))
}

/// The user's public keyring path.
pub fn public_keyring_path() -> anyhow::Result<PathBuf> {
    Ok(user_keys_dir()?.join("pgp-public"))
}

/// The user's secret keyring path.
pub fn secret_keyring_path() -> anyhow::Result<PathBuf> {
    Ok(user_keys_dir()?.join("pgp-secret"))
}

/// The global public keyring path.
pub fn global_keyring_path() -> PathBuf {
    crate::sysconf::sysconfdir().join(GLOBAL_KEYRING)
}

/// Creates `~/.stockade/keys` (0700).
pub fn ensure_user_keys_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = user_keys_dir()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Loads a keyring file (missing = empty).
pub fn load_keyring(path: &Path) -> anyhow::Result<Keyring> {
    Ok(Keyring::load(path)?)
}

/// Reads a small file (keys, certificates), refusing more than [`MAX_INPUT_BYTES`].
pub fn read_small(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = Vec::new();
    f.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if buf.len() as u64 > MAX_INPUT_BYTES {
        bail!("{} is larger than {MAX_INPUT_BYTES} bytes", path.display());
    }
    Ok(buf)
}

/// True when real and effective uid are 0.
pub fn is_root() -> bool {
    rustix::process::getuid().is_root() && rustix::process::geteuid().is_root()
}

/// A passphrase from `file` (first line), or prompted on the terminal without echo.
pub fn passphrase(
    file: Option<&Path>,
    prompt: &str,
) -> anyhow::Result<zeroize::Zeroizing<Vec<u8>>> {
    if let Some(f) = file {
        let bytes = read_small(f)?;
        let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        return Ok(zeroize::Zeroizing::new(line.to_vec()));
    }
    if !std::io::stdin().is_terminal() {
        bail!("a passphrase is needed: use --passphrase-file (standard input is not a terminal)");
    }
    prompt_hidden(prompt)
}

/// Reads one line from the terminal with echo off.
pub fn prompt_hidden(prompt: &str) -> anyhow::Result<zeroize::Zeroizing<Vec<u8>>> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let saved = tcgetattr(&stdin).context("cannot read terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Flush, &quiet).context("cannot turn echo off")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, OptionalActions::Flush, &saved);
    eprintln!();
    read.context("cannot read passphrase")?;
    let pw = zeroize::Zeroizing::new(line.trim_end_matches(['\n', '\r']).as_bytes().to_vec());
    zeroize::Zeroize::zeroize(&mut line);
    Ok(pw)
}

/// Prompts for a line of text on the terminal.
pub fn prompt_line(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// `2020-04-27 17:30:33 +0000 UTC` (Go's default time format, as Apptainer prints).
pub fn go_time(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    super::sif::go_time(i64::try_from(secs).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_format() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_593_475_316);
        assert_eq!(go_time(t), "2020-06-30 00:01:56 +0000 UTC");
        assert_eq!(
            go_time(std::time::UNIX_EPOCH),
            "1970-01-01 00:00:00 +0000 UTC"
        );
    }
}
