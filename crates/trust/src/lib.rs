// SPDX-License-Identifier: Apache-2.0
//! Trust: OpenPGP and DSSE signing/verification of SIF images, keyrings, the ECL, the verification cache.
#![forbid(unsafe_code)]
