// SPDX-License-Identifier: Apache-2.0
//! SIF (Singularity Image Format): bounded reader, writer, object add/delete, integrity views.
#![forbid(unsafe_code)]
