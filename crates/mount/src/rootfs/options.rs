// SPDX-License-Identifier: Apache-2.0
//! Splits an OCI mount's `options` into what each kernel interface takes: mount attributes
//! for the top mount and (`r`-prefixed) for the whole tree (`mount_setattr`), propagation
//! changes, superblock flags and filesystem data (`fsconfig`), and our extensions
//! (`bind`/`rbind`, `tmpcopyup`, `idmap`). Same vocabulary as runc's `specconv`.

use std::path::Path;

use rustix::mount::MountAttrFlags as A;

use crate::MountError;

/// Propagation types, as `MS_*` values for `mount_attr.propagation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    Shared,
    Slave,
    Private,
    Unbindable,
}

impl Propagation {
    /// The `MS_*` bit.
    pub(crate) fn ms_bits(self) -> u64 {
        use rustix::mount::MountPropagationFlags as P;
        u64::from(match self {
            Self::Shared => P::SHARED.bits(),
            Self::Slave => P::DOWNSTREAM.bits(),
            Self::Private => P::PRIVATE.bits(),
            Self::Unbindable => P::UNBINDABLE.bits(),
        })
    }

    /// Parses `shared`, `rslave`, ... into (type, recursive).
    pub(crate) fn parse(s: &str) -> Option<(Self, bool)> {
        let (rec, base) = match s.strip_prefix('r') {
            Some(b) if b != "o" && b != "w" => (true, b),
            _ => (false, s),
        };
        let p = match base {
            "shared" => Self::Shared,
            "slave" => Self::Slave,
            "private" => Self::Private,
            "unbindable" => Self::Unbindable,
            _ => return None,
        };
        Some((p, rec))
    }
}

/// Mount attributes to set and to clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttrChange {
    pub set: A,
    pub clr: A,
}

impl AttrChange {
    const NONE: Self = Self {
        set: A::empty(),
        clr: A::empty(),
    };

    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty() && self.clr.is_empty()
    }
}

/// A parsed `options` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Attributes of the top mount.
    pub attrs: AttrChange,
    /// Attributes of every mount of the tree (`rro`, `rnosuid`, ...).
    pub rec_attrs: AttrChange,
    /// Propagation changes in order, with their recursive bit.
    pub propagation: Vec<(Propagation, bool)>,
    /// `Some(recursive)` for `bind`/`rbind`.
    pub bind: Option<bool>,
    /// Superblock flags for `fsconfig_set_flag` (`sync`, `dirsync`, `mand`, `lazytime`, ...).
    pub sb_flags: Vec<&'static str>,
    /// Filesystem-specific data (`mode=755`, `size=64m`, `newinstance`, ...).
    pub data: Vec<String>,
    /// `tmpcopyup`: copy the former contents of the destination into a new tmpfs.
    pub tmpcopyup: bool,
}

/// What a plain (non-`r`) flag option does to the attributes.
fn flag_option(o: &str) -> Option<AttrChange> {
    let atime = |set: A| AttrChange {
        set,
        clr: A::MOUNT_ATTR__ATIME,
    };
    let set = |f: A| AttrChange {
        set: f,
        clr: A::empty(),
    };
    let clr = |f: A| AttrChange {
        set: A::empty(),
        clr: f,
    };
    Some(match o {
        "ro" => set(A::MOUNT_ATTR_RDONLY),
        "rw" => clr(A::MOUNT_ATTR_RDONLY),
        "nosuid" => set(A::MOUNT_ATTR_NOSUID),
        "suid" => clr(A::MOUNT_ATTR_NOSUID),
        "nodev" => set(A::MOUNT_ATTR_NODEV),
        "dev" => clr(A::MOUNT_ATTR_NODEV),
        "noexec" => set(A::MOUNT_ATTR_NOEXEC),
        "exec" => clr(A::MOUNT_ATTR_NOEXEC),
        "nodiratime" => set(A::MOUNT_ATTR_NODIRATIME),
        "diratime" => clr(A::MOUNT_ATTR_NODIRATIME),
        "nosymfollow" => set(A::MOUNT_ATTR_NOSYMFOLLOW),
        "symfollow" => clr(A::MOUNT_ATTR_NOSYMFOLLOW),
        // The atime mode is one field: relatime is its zero value.
        "noatime" => atime(A::MOUNT_ATTR_NOATIME),
        "strictatime" | "norelatime" => atime(A::MOUNT_ATTR_STRICTATIME),
        "relatime" | "atime" | "nostrictatime" => atime(A::MOUNT_ATTR_RELATIME),
        _ => return None,
    })
}

fn merge(into: &mut AttrChange, c: AttrChange) {
    // A later option wins over an earlier contrary one.
    into.set = (into.set - c.clr) | c.set;
    into.clr = (into.clr - c.set) | c.clr;
}

/// Parses an OCI `options` list for the mount at `dest`.
pub(crate) fn parse_options(options: &[String], dest: &Path) -> Result<MountOptions, MountError> {
    let mut o = MountOptions {
        attrs: AttrChange::NONE,
        rec_attrs: AttrChange::NONE,
        propagation: Vec::new(),
        bind: None,
        sb_flags: Vec::new(),
        data: Vec::new(),
        tmpcopyup: false,
    };
    for opt in options.iter().map(String::as_str) {
        if let Some(c) = flag_option(opt) {
            merge(&mut o.attrs, c);
        } else if let Some(c) = opt.strip_prefix('r').and_then(flag_option) {
            merge(&mut o.rec_attrs, c);
        } else if let Some(p) = Propagation::parse(opt) {
            o.propagation.push(p);
        } else if let Some(sb) = sb_flag(opt) {
            o.sb_flags.push(sb);
        } else {
            match opt {
                "bind" => o.bind = Some(o.bind.unwrap_or(false)),
                "rbind" => o.bind = Some(true),
                "tmpcopyup" => o.tmpcopyup = true,
                "idmap" | "ridmap" => {
                    return Err(MountError::IdmapUnsupported {
                        dest: dest.to_path_buf(),
                    });
                }
                // Accepted and meaningless here: mount(8) words with no kernel effect.
                "defaults" | "remount" | "silent" | "loud" | "auto" | "noauto" | "nouser" => {}
                "" => return Err(bad(opt, dest)),
                _ if opt.contains('\0') => return Err(bad(opt, dest)),
                _ => o.data.push(opt.to_owned()),
            }
        }
    }
    Ok(o)
}

fn bad(opt: &str, dest: &Path) -> MountError {
    MountError::InvalidOption {
        option: opt.to_owned(),
        dest: dest.to_path_buf(),
    }
}

/// Superblock flags understood by every filesystem through the generic `fsconfig` parser.
fn sb_flag(o: &str) -> Option<&'static str> {
    Some(match o {
        "sync" => "sync",
        "async" => "async",
        "dirsync" => "dirsync",
        "mand" => "mand",
        "nomand" => "nomand",
        "lazytime" => "lazytime",
        "nolazytime" => "nolazytime",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        let v: Vec<String> = opts.iter().map(|s| (*s).to_owned()).collect();
        parse_options(&v, Path::new("/x")).expect("parse")
    }

    #[test]
    fn flags_data_and_propagation_are_split() {
        let o = p(&[
            "nosuid",
            "noexec",
            "nodev",
            "mode=755",
            "size=65536k",
            "rslave",
            "ro",
        ]);
        assert_eq!(
            o.attrs.set,
            A::MOUNT_ATTR_NOSUID
                | A::MOUNT_ATTR_NOEXEC
                | A::MOUNT_ATTR_NODEV
                | A::MOUNT_ATTR_RDONLY
        );
        assert!(o.attrs.clr.is_empty());
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        assert_eq!(o.propagation, vec![(Propagation::Slave, true)]);
        assert_eq!(o.bind, None);
    }

    #[test]
    fn later_option_wins() {
        let o = p(&["ro", "rw"]);
        assert!(o.attrs.set.is_empty());
        assert_eq!(o.attrs.clr, A::MOUNT_ATTR_RDONLY);
        let o = p(&["noatime", "strictatime"]);
        assert_eq!(o.attrs.set, A::MOUNT_ATTR_STRICTATIME);
        assert_eq!(o.attrs.clr, A::MOUNT_ATTR__ATIME);
    }

    #[test]
    fn recursive_attrs_and_bind_kinds() {
        let o = p(&["rbind", "rro", "rnosuid", "private"]);
        assert_eq!(o.bind, Some(true));
        assert_eq!(o.rec_attrs.set, A::MOUNT_ATTR_RDONLY | A::MOUNT_ATTR_NOSUID);
        assert!(o.attrs.is_empty());
        assert_eq!(o.propagation, vec![(Propagation::Private, false)]);
        assert_eq!(p(&["bind"]).bind, Some(false));
        // rbind then bind stays recursive.
        assert_eq!(p(&["rbind", "bind"]).bind, Some(true));
    }

    #[test]
    fn rw_and_ro_are_not_propagation() {
        assert_eq!(Propagation::parse("ro"), None);
        assert_eq!(Propagation::parse("rw"), None);
        assert_eq!(
            Propagation::parse("runbindable"),
            Some((Propagation::Unbindable, true))
        );
        let o = p(&["rrw"]);
        assert_eq!(o.rec_attrs.clr, A::MOUNT_ATTR_RDONLY);
    }

    #[test]
    fn idmap_is_refused_with_the_destination() {
        let e = parse_options(&["idmap".to_owned()], Path::new("/data")).expect_err("idmap");
        assert_eq!(e.to_string(), "idmapped mounts are not supported: /data");
    }

    #[test]
    fn sb_flags_and_extensions() {
        let o = p(&[
            "sync",
            "tmpcopyup",
            "defaults",
            "newinstance",
            "ptmxmode=0666",
        ]);
        assert_eq!(o.sb_flags, vec!["sync"]);
        assert!(o.tmpcopyup);
        assert_eq!(o.data, vec!["newinstance", "ptmxmode=0666"]);
    }

    #[test]
    fn nul_is_refused() {
        assert!(parse_options(&["a\0b".to_owned()], Path::new("/x")).is_err());
    }
}
