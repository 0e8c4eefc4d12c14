// SPDX-License-Identifier: Apache-2.0
//! LUKS2 in user space: header read/write compatible with cryptsetup, keyslot unlock, sector decryption.
#![forbid(unsafe_code)]
