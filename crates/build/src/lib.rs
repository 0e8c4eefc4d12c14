// SPDX-License-Identifier: Apache-2.0
//! Image building: root dirs, OCI and docker archives, SIF sources and definition files into SIF.
#![forbid(unsafe_code)]
