// SPDX-License-Identifier: Apache-2.0
//! Numeric codes stored in SIF headers and descriptors, with the labels `siftool` prints.
//!
//! Every code is an open newtype over the stored integer: unknown values read from an image
//! round-trip unchanged and print as `Unknown`, the way the reference tools treat them.

use std::fmt;

macro_rules! labelled_code {
    ($(#[$doc:meta])* $name:ident { $($(#[$cdoc:meta])* $konst:ident = $val:expr => $label:expr,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i32);

        impl $name {
            $($(#[$cdoc])* pub const $konst: Self = Self($val);)*

            /// The label printed by `siftool`, `Unknown` for values it does not know.
            pub fn label(self) -> &'static str {
                match self.0 {
                    $($val => $label,)*
                    _ => "Unknown",
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

labelled_code!(
    /// Data object type (descriptor field `data_type`, spec §6).
    DataType {
        /// Definition file.
        DEFFILE = 0x4001 => "Def.FILE",
        /// Environment variables.
        ENV_VAR = 0x4002 => "Env.Vars",
        /// JSON labels.
        LABELS = 0x4003 => "JSON.Labels",
        /// File system partition (extra: [`crate::PartitionMeta`]).
        PARTITION = 0x4004 => "FS",
        /// Signature (extra: [`crate::SignatureMeta`]).
        SIGNATURE = 0x4005 => "Signature",
        /// Generic JSON metadata.
        GENERIC_JSON = 0x4006 => "JSON.Generic",
        /// Generic raw data.
        GENERIC = 0x4007 => "Generic/Raw",
        /// Cryptographic message (extra: [`crate::CryptoMessageMeta`]).
        CRYPTO_MESSAGE = 0x4008 => "Cryptographic Message",
        /// Software bill of materials (extra: [`SbomFormat`]).
        SBOM = 0x4009 => "SBOM",
        /// OCI root index (extra: digest string).
        OCI_ROOT_INDEX = 0x400A => "OCI.RootIndex",
        /// OCI blob (extra: digest string).
        OCI_BLOB = 0x400B => "OCI.Blob",
    }
);

impl DataType {
    /// The type for `siftool add --datatype N` (1 = Deffile … 11 = OCI.Blob); raw codes
    /// (`0x4001`…) are accepted as they are.
    pub fn from_short_code(n: i32) -> Option<Self> {
        match n {
            1..=11 => Some(Self(0x4000 + n)),
            0x4001..=0x400B => Some(Self(n)),
            _ => None,
        }
    }
}

labelled_code!(
    /// Partition file system type (partition extra `fstype`).
    FsType {
        /// Squashfs (read-only).
        SQUASHFS = 1 => "Squashfs",
        /// Ext3 (read-write, deprecated).
        EXT3 = 2 => "Ext3",
        /// Immutable object archive.
        IMMUTABLE_OBJECTS = 3 => "Archive",
        /// Raw data.
        RAW = 4 => "Raw",
        /// LUKS2-encrypted squashfs.
        ENCRYPTED_SQUASHFS = 5 => "Encrypted squashfs",
        /// Gocryptfs-encrypted squashfs (Apptainer only).
        GOCRYPTFS_SQUASHFS = 6 => "Gocryptfs squashfs",
    }
);

labelled_code!(
    /// Partition type (partition extra `parttype`).
    PartType {
        /// Operating system partition.
        SYSTEM = 1 => "System",
        /// The primary system partition (the root file system).
        PRIM_SYS = 2 => "*System",
        /// Data partition.
        DATA = 3 => "Data",
        /// Overlay partition.
        OVERLAY = 4 => "Overlay",
    }
);

labelled_code!(
    /// Signature hash type (signature extra `hashtype`).
    HashType {
        /// SHA-256.
        SHA256 = 1 => "SHA-256",
        /// SHA-384.
        SHA384 = 2 => "SHA-384",
        /// SHA-512.
        SHA512 = 3 => "SHA-512",
        /// BLAKE2s-256.
        BLAKE2S = 4 => "BLAKE2s-256",
        /// BLAKE2b-256.
        BLAKE2B = 5 => "BLAKE2b-256",
    }
);

labelled_code!(
    /// Crypto message format (crypto message extra `format`).
    FormatType {
        /// OpenPGP.
        OPENPGP = 1 => "OpenPGP",
        /// PEM.
        PEM = 2 => "PEM",
    }
);

labelled_code!(
    /// Crypto message kind (crypto message extra `message`).
    MessageType {
        /// OpenPGP clear signature.
        CLEAR_SIGNATURE = 0x100 => "Clear Signature",
        /// RSA-OAEP wrapped key.
        RSA_OAEP = 0x200 => "RSA-OAEP",
    }
);

labelled_code!(
    /// SBOM format (SBOM extra `format`).
    SbomFormat {
        /// CycloneDX JSON.
        CYCLONEDX_JSON = 1 => "cyclonedx-json",
        /// CycloneDX XML.
        CYCLONEDX_XML = 2 => "cyclonedx-xml",
        /// GitHub dependency snapshot JSON.
        GITHUB_JSON = 3 => "github-json",
        /// SPDX JSON.
        SPDX_JSON = 4 => "spdx-json",
        /// SPDX RDF.
        SPDX_RDF = 5 => "spdx-rdf",
        /// SPDX tag-value.
        SPDX_TAG_VALUE = 6 => "spdx-tag-value",
        /// SPDX YAML.
        SPDX_YAML = 7 => "spdx-yaml",
        /// Syft JSON.
        SYFT_JSON = 8 => "syft-json",
    }
);

impl SbomFormat {
    /// Parses a format name as `siftool add --sbomformat` does (`github` is an alias).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = if name == "github" {
            "github-json"
        } else {
            name
        };
        (1..=8).map(Self).find(|f| f.label() == name)
    }
}

/// Go architecture names indexed by SIF arch code (`"00"` = unknown … `"13"` = loong64).
const ARCH_NAMES: [&str; 14] = [
    "unknown", "386", "amd64", "arm", "arm64", "ppc64", "ppc64le", "mips", "mipsle", "mips64",
    "mips64le", "s390x", "riscv64", "loong64",
];

/// Architecture code as stored: two ASCII digits and a NUL (`"02\0"` = amd64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Arch(pub [u8; 3]);

impl Arch {
    /// `"00"`: no primary partition / unknown.
    pub const UNKNOWN: Self = Self(*b"00\0");

    /// The code for a Go architecture name (`"amd64"`); `None` when SIF has no code for it.
    pub fn from_go_name(name: &str) -> Option<Self> {
        let n = ARCH_NAMES
            .iter()
            .position(|a| *a == name)
            .filter(|n| *n > 0)?;
        Self::from_number(n)
    }

    /// The code with number `n` (`2` → `"02"`), as `siftool add --partarch` takes it.
    pub fn from_number(n: usize) -> Option<Self> {
        if n == 0 || n >= ARCH_NAMES.len() {
            return None;
        }
        let tens = u8::try_from(n / 10).ok()?;
        let ones = u8::try_from(n % 10).ok()?;
        Some(Self([b'0' + tens, b'0' + ones, 0]))
    }

    /// The architecture of the machine this binary was built for.
    pub fn host() -> Self {
        let go = match std::env::consts::ARCH {
            "x86" => "386",
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            other => other,
        };
        Self::from_go_name(go).unwrap_or(Self::UNKNOWN)
    }

    /// The stored code without trailing NULs (`"02"`).
    pub fn code(&self) -> String {
        crate::raw::trim_nul(&self.0)
    }

    /// The Go architecture name (`"amd64"`), `"unknown"` for codes SIF does not define.
    pub fn go_name(&self) -> &'static str {
        let code = self.code();
        let known = code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit());
        code.parse::<usize>()
            .ok()
            .filter(|_| known)
            .and_then(|n| ARCH_NAMES.get(n).copied())
            .unwrap_or("unknown")
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.go_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_codes_round_trip() {
        assert_eq!(Arch::from_go_name("amd64"), Some(Arch(*b"02\0")));
        assert_eq!(Arch::from_go_name("loong64"), Some(Arch(*b"13\0")));
        assert_eq!(Arch(*b"06\0").go_name(), "ppc64le");
        assert_eq!(Arch(*b"99\0").go_name(), "unknown");
        assert_eq!(Arch::UNKNOWN.go_name(), "unknown");
        assert_eq!(Arch::from_go_name("unknown"), None);
        assert_ne!(Arch::host(), Arch::UNKNOWN);
    }

    #[test]
    fn labels() {
        assert_eq!(DataType::from_short_code(4), Some(DataType::PARTITION));
        assert_eq!(DataType(0x4010).label(), "Unknown");
        assert_eq!(PartType::PRIM_SYS.label(), "*System");
        assert_eq!(
            SbomFormat::from_name("github"),
            Some(SbomFormat::GITHUB_JSON)
        );
        assert_eq!(HashType(9).to_string(), "Unknown");
    }
}
