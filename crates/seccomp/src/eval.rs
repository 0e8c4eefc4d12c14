// SPDX-License-Identifier: Apache-2.0
//! Test-only classic-BPF interpreter over `struct seccomp_data`, so unit tests can check what
//! a compiled program decides without loading it into a process.

use stockade_sys::seccomp::SockFilter;

/// The input of a seccomp filter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Data {
    pub nr: u32,
    pub arch: u32,
    pub args: [u64; 6],
}

impl Data {
    fn bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        b[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        for (i, a) in self.args.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        b
    }
}

/// Runs `prog` on `data` and returns the `SECCOMP_RET_*` value. Panics on anything the kernel
/// would reject (out-of-range load, jump past the end, unknown opcode).
pub(crate) fn run(prog: &[SockFilter], data: &Data) -> u32 {
    let bytes = data.bytes();
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
    let mut pc = 0usize;
    loop {
        let SockFilter { code, jt, jf, k } = prog[pc];
        pc += 1;
        let src = if code & 0x08 != 0 { x } else { k };
        match code & 0x07 {
            0x00 => match code {
                0x20 => {
                    let o = usize::try_from(k).unwrap();
                    a = u32::from_ne_bytes(bytes[o..o + 4].try_into().unwrap());
                }
                0x00 => a = k,
                0x60 => a = mem[usize::try_from(k).unwrap()],
                _ => panic!("unsupported load {code:#x}"),
            },
            0x01 => match code {
                0x01 => x = k,
                0x61 => x = mem[usize::try_from(k).unwrap()],
                _ => panic!("unsupported ldx {code:#x}"),
            },
            0x02 => mem[usize::try_from(k).unwrap()] = a,
            0x03 => mem[usize::try_from(k).unwrap()] = x,
            0x04 => a = alu(code & 0xf0, a, src),
            0x05 => {
                let taken = match code & 0xf0 {
                    0x00 => {
                        pc += usize::try_from(k).unwrap();
                        continue;
                    }
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    0x40 => a & src != 0,
                    op => panic!("unsupported jump {op:#x}"),
                };
                pc += usize::from(if taken { jt } else { jf });
            }
            0x06 => return if code & 0x18 == 0x10 { a } else { k },
            _ => {
                if code & 0xf8 == 0 {
                    x = a; // TAX
                } else {
                    a = x; // TXA
                }
            }
        }
    }
}

fn alu(op: u16, a: u32, v: u32) -> u32 {
    match op {
        0x00 => a.wrapping_add(v),
        0x10 => a.wrapping_sub(v),
        0x20 => a.wrapping_mul(v),
        0x30 => a / v,
        0x40 => a | v,
        0x50 => a & v,
        0x60 => a << v,
        0x70 => a >> v,
        0x80 => a.wrapping_neg(),
        0x90 => a % v,
        0xa0 => a ^ v,
        _ => panic!("unsupported alu {op:#x}"),
    }
}
