// SPDX-License-Identifier: Apache-2.0
//! Profile → BPF with libseccomp, in the runtime's main process before the clone.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use libseccomp::{ScmpAction, ScmpFilterContext};
use oci_spec::runtime::LinuxSeccomp;
use stockade_sys::seccomp::{self as sys, SockFilter};

use crate::filter::CompiledFilter;
use crate::{SeccompError, enosys, plan, translate};

/// libseccomp's binary-tree layout: a syscall is found in ~log2(n) comparisons instead of a
/// linear scan of every rule (the default profile names ~350 syscalls).
const OPTIMIZE_BINARY_TREE: u32 = 2;

/// Compiles an OCI seccomp profile to a ready-to-load BPF program.
///
/// Validates the profile ([`crate::validate`]), adds the native architecture plus the listed
/// ones, translates every rule (unknown syscall names are skipped with a debug log), exports
/// libseccomp's program and puts the ENOSYS prologue (see `enosys.rs`) in front of it. A
/// syscall from an ABI not in the filter kills the process.
pub fn compile(profile: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError> {
    crate::validate(profile)?;
    let plan = plan::build(profile)?;
    let ctx = filter_context(&plan)?;
    let mut program = enosys::prologue(&plan);
    program.extend(export(&ctx)?);
    let program = check_length(program)?;
    let mut flags = translate::flags(profile.flags().as_deref().unwrap_or_default());
    if plan.notify {
        flags |= sys::FLAG_NEW_LISTENER;
        if flags & sys::FLAG_TSYNC != 0 {
            // TSYNC and NEW_LISTENER are exclusive unless TSYNC failures report ESRCH.
            flags |= sys::FLAG_TSYNC_ESRCH;
        }
    }
    tracing::debug!(
        instructions = program.len(),
        flags,
        "seccomp: filter compiled"
    );
    Ok(CompiledFilter::new(
        program,
        flags,
        plan.notify,
        profile.listener_path().clone(),
        profile.listener_metadata().clone().unwrap_or_default(),
    ))
}

fn filter_context(plan: &plan::Plan) -> Result<ScmpFilterContext, SeccompError> {
    let mut ctx = ScmpFilterContext::new(plan.default).map_err(SeccompError::NewFilter)?;
    ctx.set_act_badarch(ScmpAction::KillProcess)
        .map_err(SeccompError::NewFilter)?;
    ctx.set_ctl_optimize(OPTIMIZE_BINARY_TREE)
        .map_err(SeccompError::NewFilter)?;
    for (arch, oci) in &plan.arches {
        if !ctx.is_arch_present(*arch).unwrap_or(false) {
            ctx.add_arch(*arch)
                .map_err(|source| SeccompError::UnsupportedArch {
                    arch: oci.to_string(),
                    source,
                })?;
        }
    }
    for rule in &plan.rules {
        ctx.add_rule_conditional(rule.action, rule.syscall, &rule.conditions)
            .map_err(|source| SeccompError::AddRule {
                name: rule.name.clone(),
                action: translate::action_name(rule.action),
                source,
            })?;
    }
    Ok(ctx)
}

fn check_length(program: Vec<SockFilter>) -> Result<Vec<SockFilter>, SeccompError> {
    if program.len() > sys::MAX_INSTRUCTIONS {
        let (count, limit) = (program.len(), sys::MAX_INSTRUCTIONS);
        return Err(SeccompError::ProgramTooLong { count, limit });
    }
    Ok(program)
}

/// Exports libseccomp's program through a memfd and decodes it into instructions.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<SockFilter>, SeccompError> {
    let fd = rustix::fs::memfd_create("stockade-seccomp-bpf", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| SeccompError::ReadBpf(e.into()))?;
    let mut file = File::from(fd);
    ctx.export_bpf(&file).map_err(SeccompError::ExportBpf)?;
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .map_err(SeccompError::ReadBpf)?;
    file.read_to_end(&mut bytes)
        .map_err(SeccompError::ReadBpf)?;
    decode(&bytes)
}

fn decode(bytes: &[u8]) -> Result<Vec<SockFilter>, SeccompError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
        let msg = format!(
            "exported BPF is {} bytes, not a whole number of instructions",
            bytes.len()
        );
        return Err(SeccompError::ReadBpf(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            msg,
        )));
    }
    Ok(crate::filter::decode_program(bytes))
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
