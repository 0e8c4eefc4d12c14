// SPDX-License-Identifier: Apache-2.0
//! `/etc/passwd` and `/etc/group` for the container: the image's files (read in-root,
//! bounded) with the invoking user's entry and primary group added, so `id`, `whoami` and
//! shells prompt with the right name. Existing entries for the same uid or name are
//! replaced; the home field is the container home.

use std::path::Path;

use super::user::HostUser;

/// Upper bound on the image's account files.
pub const MAX_IMAGE_ACCOUNT_FILE: u64 = 4 << 20;

/// The image's passwd text with `user`'s entry (home `home`, the user's shell when the
/// image has it, else `/bin/sh`).
pub fn with_user(image_passwd: &str, user: &HostUser, home: &Path, shell_exists: bool) -> String {
    let uid = user.uid.to_string();
    let mut out: String = image_passwd
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(':').collect();
            !(f.len() >= 3 && (f[0] == user.name || f[2] == uid))
        })
        .flat_map(|l| [l, "\n"])
        .collect();
    let shell = if shell_exists {
        user.shell.as_str()
    } else {
        "/bin/sh"
    };
    out.push_str(&format!(
        "{}:x:{}:{}:{}:{}:{}\n",
        user.name,
        user.uid,
        user.gid,
        user.gecos.replace([':', '\n'], " "),
        home.display(),
        shell
    ));
    out
}

/// The image's group text with the user's primary group (when the image lacks its gid).
pub fn with_group(image_group: &str, user: &HostUser) -> String {
    let gid = user.gid.to_string();
    let mut out: String = image_group.lines().flat_map(|l| [l, "\n"]).collect();
    let has_gid = image_group
        .lines()
        .any(|l| l.split(':').nth(2) == Some(gid.as_str()));
    if !has_gid {
        let name = user.group.clone().unwrap_or_else(|| user.name.clone());
        out.push_str(&format!("{name}:x:{}:{}\n", user.gid, user.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn alice() -> HostUser {
        HostUser {
            uid: 1000,
            gid: 1000,
            name: "alice".into(),
            gecos: "Alice".into(),
            home: PathBuf::from("/home/alice"),
            shell: "/bin/zsh".into(),
            group: Some("alice".into()),
        }
    }

    #[test]
    fn test_user_added_and_duplicates_replaced() {
        let img = "root:x:0:0:root:/root:/bin/sh\nold:x:1000:1:o:/o:/bin/sh\nalice:x:5:5::/:/x\n";
        let p = with_user(img, &alice(), Path::new("/home/alice"), false);
        assert_eq!(
            p,
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
        );
        let p = with_user("", &alice(), Path::new("/h"), true);
        assert!(p.ends_with(":/h:/bin/zsh\n"));
    }

    #[test]
    fn test_group_added_once() {
        let g = with_group("root:x:0:\n", &alice());
        assert_eq!(g, "root:x:0:\nalice:x:1000:alice\n");
        assert_eq!(with_group("users:x:1000:\n", &alice()), "users:x:1000:\n");
    }
}
