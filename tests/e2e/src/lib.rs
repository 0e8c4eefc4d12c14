// SPDX-License-Identifier: Apache-2.0
//! Shared helpers of the black-box suites in `tests/`.
#![forbid(unsafe_code)]
