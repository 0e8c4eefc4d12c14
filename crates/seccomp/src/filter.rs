// SPDX-License-Identifier: Apache-2.0
//! A compiled filter: the BPF program plus what loading it needs.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use stockade_sys::seccomp::{self as sys, SockFilter};

use crate::SeccompError;

/// A seccomp program compiled by [`crate::compile`], ready for [`CompiledFilter::load`].
///
/// Built in the runtime's main process; the container init (a clone of it) only loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledFilter {
    program: Vec<SockFilter>,
    flags: u32,
    notify: bool,
    listener_path: Option<PathBuf>,
    listener_metadata: String,
}

impl CompiledFilter {
    pub(crate) fn new(
        program: Vec<SockFilter>,
        flags: u32,
        notify: bool,
        listener_path: Option<PathBuf>,
        listener_metadata: String,
    ) -> Self {
        Self {
            program,
            flags,
            notify,
            listener_path,
            listener_metadata,
        }
    }

    /// Installs the filter on the calling thread (all threads with `SECCOMP_FILTER_FLAG_TSYNC`)
    /// with one `seccomp(SECCOMP_SET_MODE_FILTER)` call; no allocation, so it may run in the
    /// container init right before `execve`.
    ///
    /// The kernel requires `no_new_privs` or `CAP_SYS_ADMIN`: the caller sets
    /// `PR_SET_NO_NEW_PRIVS` first when `process.noNewPrivileges` is true (runc's order: NNP,
    /// then seccomp, then exec). Returns the user-notification listener when the profile has
    /// an `SCMP_ACT_NOTIFY` rule; the init passes it to the main process, which gives it to
    /// the agent with [`crate::send_listener`] and closes its copy.
    pub fn load(&self) -> Result<Option<OwnedFd>, SeccompError> {
        sys::set_mode_filter(&self.program, self.flags).map_err(SeccompError::Load)
    }

    /// The agent socket (`listenerPath`) when the profile has one.
    pub fn listener_path(&self) -> Option<&Path> {
        self.listener_path.as_deref()
    }

    /// The opaque `listenerMetadata` to pass to the agent (empty when unset).
    pub fn listener_metadata(&self) -> &str {
        &self.listener_metadata
    }

    /// True when loading returns a notification listener.
    pub fn has_notify(&self) -> bool {
        self.notify
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits passed to the kernel.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// The BPF program.
    pub fn program(&self) -> &[SockFilter] {
        &self.program
    }

    /// Serialises the filter (for a compile cache: compiling a profile with compat ABIs takes
    /// tens of milliseconds, loading a cached one microseconds). Native byte order: a cache
    /// is only valid on the machine that wrote it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let path = self
            .listener_path
            .as_deref()
            .map(Path::as_os_str)
            .map(OsStrExt::as_bytes);
        let path = path.unwrap_or_default();
        let mut out = Vec::with_capacity(32 + self.program.len() * 8);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.flags.to_ne_bytes());
        out.push(u8::from(self.notify));
        out.push(u8::from(self.listener_path.is_some()));
        for field in [path, self.listener_metadata.as_bytes()] {
            out.extend_from_slice(&len32(field.len()).to_ne_bytes());
            out.extend_from_slice(field);
        }
        out.extend_from_slice(&len32(self.program.len()).to_ne_bytes());
        for i in &self.program {
            out.extend_from_slice(&i.code.to_ne_bytes());
            out.extend_from_slice(&[i.jt, i.jf]);
            out.extend_from_slice(&i.k.to_ne_bytes());
        }
        out
    }

    /// Reads what [`CompiledFilter::to_bytes`] wrote; `None` if it is not exactly that (the
    /// caller then compiles again). Bounded: at most 4096 instructions, fields within input.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes.strip_prefix(MAGIC)?);
        let flags = u32::from_ne_bytes(r.take(4)?.try_into().ok()?);
        let [notify, has_path] = <[u8; 2]>::try_from(r.take(2)?).ok()?;
        let path = r.field()?;
        let metadata = String::from_utf8(r.field()?.to_vec()).ok()?;
        let count = usize::try_from(r.u32()?).ok()?;
        if count == 0 || count > sys::MAX_INSTRUCTIONS || notify > 1 || has_path > 1 {
            return None;
        }
        let program = decode_program(r.take(count.checked_mul(8)?)?);
        if !r.0.is_empty() || (has_path == 0 && !path.is_empty()) {
            return None;
        }
        let listener_path = (has_path == 1).then(|| PathBuf::from(OsStr::from_bytes(path)));
        Some(Self::new(
            program,
            flags,
            notify == 1,
            listener_path,
            metadata,
        ))
    }
}

const MAGIC: &[u8; 8] = b"STKSECC1";

/// Instructions from their native-endian 8-byte encoding (`struct sock_filter`); a trailing
/// partial instruction is ignored.
pub(crate) fn decode_program(bytes: &[u8]) -> Vec<SockFilter> {
    bytes
        .chunks_exact(8)
        .map(|c| SockFilter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("fields are bounded by the profile size limit")
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_ne_bytes(self.take(4)?.try_into().ok()?))
    }

    fn field(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_damage_is_refused() {
        let program = vec![
            SockFilter {
                code: 6,
                jt: 0,
                jf: 0,
                k: 0x7fff_0000
            };
            3
        ];
        let path = Some(PathBuf::from("/run/agent.sock"));
        let f = CompiledFilter::new(program, 8, true, path, "meta".into());
        let bytes = f.to_bytes();
        assert_eq!(CompiledFilter::from_bytes(&bytes), Some(f.clone()));
        let plain = CompiledFilter::new(f.program.clone(), 0, false, None, String::new());
        assert_eq!(CompiledFilter::from_bytes(&plain.to_bytes()), Some(plain));
        for cut in 0..bytes.len() {
            assert_eq!(
                CompiledFilter::from_bytes(&bytes[..cut]),
                None,
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(CompiledFilter::from_bytes(&longer), None);
        let mut bad = bytes;
        bad[0] ^= 1;
        assert_eq!(CompiledFilter::from_bytes(&bad), None);
    }
}
