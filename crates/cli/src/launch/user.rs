// SPDX-License-Identifier: Apache-2.0
//! The invoking user as the host knows it: the `/etc/passwd` entry of the real uid, its
//! primary group's name, and its `/etc/subuid`/`/etc/subgid` ranges. Files only (no NSS):
//! a user missing from `/etc/passwd` gets a synthetic entry (`$USER` or `uid<N>`, `$HOME`).

use std::io::Read;
use std::path::{Path, PathBuf};

/// Upper bound on the host account files read here.
pub const MAX_ACCOUNT_FILE: u64 = 16 << 20;

/// A host account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUser {
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Login name.
    pub name: String,
    /// GECOS field.
    pub gecos: String,
    /// Home directory.
    pub home: PathBuf,
    /// Login shell.
    pub shell: String,
    /// Name of the primary group, if the host has one.
    pub group: Option<String>,
}

/// Reads a host account file (bounded); empty when missing or unreadable.
pub fn read_account_file(path: &Path) -> String {
    let Ok(f) = std::fs::File::open(path) else {
        return String::new();
    };
    let mut s = String::new();
    if f.take(MAX_ACCOUNT_FILE).read_to_string(&mut s).is_err() {
        return String::new();
    }
    s
}

/// The invoking (real) user.
pub fn current() -> HostUser {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let passwd = read_account_file(Path::new("/etc/passwd"));
    let group = read_account_file(Path::new("/etc/group"));
    let mut u = from_passwd(&passwd, uid).unwrap_or_else(|| HostUser {
        uid,
        gid,
        name: std::env::var("USER")
            .ok()
            .filter(|n| valid_name(n))
            .unwrap_or_else(|| format!("uid{uid}")),
        gecos: String::new(),
        home: std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from),
        shell: "/bin/sh".into(),
        group: None,
    });
    u.gid = gid;
    u.group = group_name(&group, gid);
    u
}

/// A name usable in `/etc/passwd` (no `:`, newline, empty).
pub fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 256 && !n.contains([':', '\n', '\0'])
}

/// The entry of `uid` in passwd text.
pub fn from_passwd(text: &str, uid: u32) -> Option<HostUser> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[2].parse::<u32>().ok()? != uid {
            return None;
        }
        Some(HostUser {
            uid,
            gid: f[3].parse().ok()?,
            name: f[0].to_string(),
            gecos: f[4].to_string(),
            home: PathBuf::from(f[5]),
            shell: f[6].to_string(),
            group: None,
        })
    })
}

/// The name of group `gid` in group text.
pub fn group_name(text: &str, gid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[2].parse::<u32>().ok()? == gid).then(|| f[0].to_string())
    })
}

/// The uid of a user name in the host's `/etc/passwd`.
pub fn uid_of_name(name: &str) -> Option<u32> {
    let text = read_account_file(Path::new("/etc/passwd"));
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[0] == name)
            .then(|| f[2].parse().ok())
            .flatten()
    })
}

/// The first subordinate id range `(start, count)` of `user` in subuid/subgid text
/// (`name:start:count` or `uid:start:count`).
pub fn subid_range(text: &str, user: &HostUser) -> Option<(u32, u32)> {
    let uid = user.uid.to_string();
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.trim().split(':').collect();
        if f.len() != 3 || (f[0] != user.name && f[0] != uid) {
            return None;
        }
        let start: u32 = f[1].parse().ok()?;
        let count: u32 = f[2].parse().ok()?;
        (count > 0 && start.checked_add(count).is_some()).then_some((start, count))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:100:Alice A:/home/alice:/bin/zsh\nbad line\n";

    #[test]
    fn test_passwd_lookup() {
        let u = from_passwd(PASSWD, 1000).unwrap();
        assert_eq!((u.name.as_str(), u.gid), ("alice", 100));
        assert_eq!(u.home, PathBuf::from("/home/alice"));
        assert!(from_passwd(PASSWD, 5).is_none());
        assert_eq!(
            group_name("users:x:100:alice\n", 100).as_deref(),
            Some("users")
        );
    }

    #[test]
    fn test_subid_ranges() {
        let u = from_passwd(PASSWD, 1000).unwrap();
        assert_eq!(
            subid_range("bob:1:2\nalice:100000:65536\n", &u),
            Some((100000, 65536))
        );
        assert_eq!(subid_range("1000:200000:10\n", &u), Some((200000, 10)));
        assert_eq!(subid_range("alice:4294967295:2\n", &u), None);
        assert_eq!(subid_range("", &u), None);
    }
}
