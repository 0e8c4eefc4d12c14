// SPDX-License-Identifier: Apache-2.0
//! squashfs reader and the unprivileged FUSE server that serves a SIF partition.
#![forbid(unsafe_code)]
