// SPDX-License-Identifier: Apache-2.0
//! `ecl.toml`: Apptainer's schema (spec §12.2), bounded reading, strict parsing (unknown keys
//! are errors: a misspelt `activated` must not silently disable the list) and Apptainer's
//! validation, run whether or not the list is activated.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::pgp::parse_fp;

/// Largest `ecl.toml` read.
pub const MAX_ECL_BYTES: usize = 256 * 1024;
/// Most execgroups.
pub const MAX_EXECGROUPS: usize = 1024;
/// Most fingerprints in one execgroup.
pub const MAX_KEYFPS: usize = 1024;

/// Execgroup mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// At least one listed key signed (and verified).
    Whitelist,
    /// Every listed key signed (and verified).
    Whitestrict,
    /// No listed key signed.
    Blacklist,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Whitelist => "whitelist",
            Self::Whitestrict => "whitestrict",
            Self::Blacklist => "blacklist",
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    activated: bool,
    #[serde(default)]
    legacyinsecure: bool,
    #[serde(default)]
    execgroup: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    tagname: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    dirpath: String,
    #[serde(default)]
    keyfp: Vec<String>,
}

/// One validated execgroup.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExecGroup {
    /// Label.
    pub tagname: String,
    /// Mode.
    pub mode: Mode,
    /// Directory (`""` = catch-all).
    pub dirpath: String,
    /// Fingerprints.
    pub keyfp: Vec<[u8; 20]>,
}

/// A parsed and validated configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct EclConfig {
    /// Master switch.
    pub activated: bool,
    /// Verify only the primary partition with legacy signatures.
    pub legacy: bool,
    /// Execgroups in file order.
    pub execgroups: Vec<ExecGroup>,
}

/// Why a configuration is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Too large.
    #[error("larger than {MAX_ECL_BYTES} bytes")]
    TooLarge,
    /// TOML syntax or schema.
    #[error("{0}")]
    Syntax(String),
    /// Too many execgroups or fingerprints.
    #[error("too many {0}")]
    TooMany(&'static str),
    /// Same dirpath twice.
    #[error("a specific dirpath can only appear in one execgroup: {0}")]
    DuplicateDirpath(String),
    /// dirpath not absolute, clean and symlink-free (or missing).
    #[error("execgroup dirpath {0:?} must be absolute, cleaned, with symlinks resolved")]
    Dirpath(String),
    /// Bad mode.
    #[error("execgroup {tag:?}: mode {mode:?} is not one of whitelist, whitestrict, blacklist")]
    Mode {
        /// Tagname.
        tag: String,
        /// Mode found.
        mode: String,
    },
    /// Bad fingerprint.
    #[error("execgroup {tag:?}: keyfp {fp:?} is not a 40 chars hex fingerprint")]
    KeyFp {
        /// Tagname.
        tag: String,
        /// Value found.
        fp: String,
    },
}

/// Parses `text` without validating directories (for tools and the fuzzer).
pub fn parse(text: &[u8]) -> Result<(EclConfig, Vec<String>), ConfigError> {
    if text.len() > MAX_ECL_BYTES {
        return Err(ConfigError::TooLarge);
    }
    let text = std::str::from_utf8(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                ConfigError::Syntax(format!("line {line}: {msg}"))
            }
            None => ConfigError::Syntax(msg),
        }
    })?;
    if raw.execgroup.len() > MAX_EXECGROUPS {
        return Err(ConfigError::TooMany("execgroups"));
    }
    let mut seen = HashSet::new();
    let mut execgroups = Vec::with_capacity(raw.execgroup.len());
    let mut dirs = Vec::new();
    for g in raw.execgroup {
        if !seen.insert(g.dirpath.clone()) {
            return Err(ConfigError::DuplicateDirpath(g.dirpath));
        }
        if !g.dirpath.is_empty() {
            dirs.push(g.dirpath.clone());
        }
        let mode = match g.mode.as_str() {
            "whitelist" => Mode::Whitelist,
            "whitestrict" => Mode::Whitestrict,
            "blacklist" => Mode::Blacklist,
            _ => {
                return Err(ConfigError::Mode {
                    tag: g.tagname,
                    mode: g.mode,
                });
            }
        };
        if g.keyfp.len() > MAX_KEYFPS {
            return Err(ConfigError::TooMany("key fingerprints"));
        }
        let keyfp = g
            .keyfp
            .iter()
            .map(|fp| {
                // Apptainer: plain hex, 40 digits, no spaces.
                parse_fp(fp)
                    .filter(|_| fp.len() == 40)
                    .ok_or_else(|| ConfigError::KeyFp {
                        tag: g.tagname.clone(),
                        fp: fp.chars().take(80).collect(),
                    })
            })
            .collect::<Result<_, _>>()?;
        execgroups.push(ExecGroup {
            tagname: g.tagname,
            mode,
            dirpath: g.dirpath,
            keyfp,
        });
    }
    let cfg = EclConfig {
        activated: raw.activated,
        legacy: raw.legacyinsecure,
        execgroups,
    };
    Ok((cfg, dirs))
}

/// Parses and validates (every non-empty dirpath must equal its canonical form).
pub fn parse_and_validate(text: &[u8]) -> Result<EclConfig, ConfigError> {
    let (cfg, dirs) = parse(text)?;
    for d in dirs {
        let canonical = std::fs::canonicalize(&d).map_err(|_| ConfigError::Dirpath(d.clone()))?;
        if !Path::new(&d).is_absolute() || canonical.as_os_str() != std::ffi::OsStr::new(&d) {
            return Err(ConfigError::Dirpath(d));
        }
    }
    Ok(cfg)
}
