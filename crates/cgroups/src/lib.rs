// SPDX-License-Identifier: Apache-2.0
//! cgroup v1, v2 and hybrid managers: create, apply resources, freeze, stats, remove. Roots are injected.
#![forbid(unsafe_code)]
