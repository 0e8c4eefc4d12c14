// SPDX-License-Identifier: Apache-2.0
//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// What went wrong while parsing, compiling, loading or handing over a seccomp filter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeccompError {
    /// The profile text is larger than [`crate::MAX_PROFILE_BYTES`].
    #[error("seccomp profile is {size} bytes, the limit is {limit}")]
    ProfileTooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The profile is not valid JSON for an OCI `LinuxSeccomp` (names unknown actions,
    /// architectures, flags and operators).
    #[error("invalid seccomp profile")]
    ParseProfile(#[source] serde_json::Error),
    /// A count in the profile exceeds its bound.
    #[error("seccomp profile has {count} {what}, the limit is {limit}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many there are.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Too many rules with several conditions: libseccomp's generator is exponential in them.
    #[error("seccomp profile conditions are too complex to compile (cost {cost}, limit {limit})")]
    TooComplex {
        /// The profile's cost (see `MAX_CONDITION_COST`).
        cost: u64,
        /// The limit.
        limit: u64,
    },
    /// The profile would compile to a program too large to be generated quickly.
    #[error("seccomp profile would compile to about {estimate} instructions, the limit is {limit}")]
    TooLarge {
        /// Estimated instructions over all ABIs.
        estimate: u64,
        /// The limit.
        limit: u64,
    },
    /// An errnoRet outside 0..=4095 (the kernel's MAX_ERRNO; the BPF return field is 16 bits).
    #[error("errnoRet {value} of {context} is out of range 0..=4095")]
    ErrnoOutOfRange {
        /// Where it was found (`defaultErrnoRet` or the syscall names).
        context: String,
        /// The value.
        value: u32,
    },
    /// An argument condition names an index past the sixth argument.
    #[error("argument index {index} of syscall {name} is out of range 0..=5")]
    ArgIndex {
        /// The syscall.
        name: String,
        /// The index.
        index: usize,
    },
    /// `SCMP_ACT_NOTIFY` as the default action would notify the runtime's own last steps.
    #[error("SCMP_ACT_NOTIFY cannot be the default action")]
    NotifyAsDefault,
    /// `SCMP_ACT_NOTIFY` on a syscall the runtime still needs after the filter is loaded.
    #[error(
        "SCMP_ACT_NOTIFY cannot be used for {name}: the runtime needs it to hand over the listener"
    )]
    NotifyForbidden {
        /// The syscall.
        name: String,
    },
    /// `SCMP_ACT_NOTIFY` is used but there is nowhere to send the listener.
    #[error("SCMP_ACT_NOTIFY is used but listenerPath is not set")]
    NotifyWithoutListener,
    /// `listenerPath` must be an absolute path.
    #[error("listenerPath {} is not an absolute path", .0.display())]
    ListenerPathNotAbsolute(PathBuf),
    /// A flag that only makes sense with a notify listener.
    #[error("flag {flag} requires an SCMP_ACT_NOTIFY rule")]
    FlagNeedsNotify {
        /// The flag.
        flag: &'static str,
    },
    /// The architecture is valid OCI but this libseccomp cannot filter it.
    #[error("architecture {arch} is not supported by this libseccomp")]
    UnsupportedArch {
        /// The OCI name.
        arch: String,
        /// Why libseccomp refused it.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// A conditional rule would be silently overridden by a less strict unconditional one
    /// (libseccomp keeps only the unconditional rule of a syscall).
    #[error(
        "syscall {name}: {conditional} rule with arguments is overridden by the unconditional {unconditional} rule"
    )]
    ShadowedRule {
        /// The syscall.
        name: String,
        /// Action of the lost conditional rule.
        conditional: String,
        /// Action of the unconditional rule.
        unconditional: String,
    },
    /// libseccomp refused to start a filter.
    #[error("cannot create a libseccomp filter")]
    NewFilter(#[source] libseccomp::error::SeccompError),
    /// libseccomp refused a rule.
    #[error("cannot add the {action} rule for syscall {name}")]
    AddRule {
        /// The syscall.
        name: String,
        /// The action.
        action: String,
        /// Why.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// libseccomp could not generate the program.
    #[error("cannot export the filter as BPF")]
    ExportBpf(#[source] libseccomp::error::SeccompError),
    /// The exported program could not be read back.
    #[error("cannot read the exported BPF program")]
    ReadBpf(#[source] io::Error),
    /// The program is longer than the kernel accepts.
    #[error("compiled filter has {count} instructions, the kernel accepts at most {limit}")]
    ProgramTooLong {
        /// Instructions generated.
        count: usize,
        /// `BPF_MAXINSNS`.
        limit: usize,
    },
    /// `seccomp(SECCOMP_SET_MODE_FILTER)` failed (EACCES: neither no_new_privs nor
    /// CAP_SYS_ADMIN).
    #[error("cannot load the seccomp filter")]
    Load(#[source] io::Error),
    /// The state given to [`crate::send_listener`] is not an OCI state.
    #[error("invalid container state for the seccomp agent")]
    State(#[source] serde_json::Error),
    /// Connecting to the seccomp agent failed.
    #[error("cannot connect to the seccomp agent at {}", .path.display())]
    ConnectAgent {
        /// `listenerPath`.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Sending the state and listener fd failed.
    #[error("cannot send the seccomp listener to {}", .path.display())]
    SendListener {
        /// `listenerPath`.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}
