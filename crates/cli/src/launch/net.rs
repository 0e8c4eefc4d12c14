// SPDX-License-Identifier: Apache-2.0
//! `--net --network none`: main moves itself into a new, empty network namespace before
//! the launch (the container inherits it) and brings the loopback interface up with one
//! rtnetlink `RTM_NEWLINK` request — plain socket calls, no `ioctl`, no external tool.

use anyhow::{Context, Result, bail};
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};

const RTM_NEWLINK: u16 = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const IFF_UP: u32 = 1;
/// The loopback interface of a fresh network namespace.
const LO_INDEX: i32 = 1;

/// Creates the network namespace and brings `lo` up.
pub fn enter_empty() -> Result<()> {
    stockade_sys::misc::unshare(stockade_sys::clone::NEWNET)
        .context("cannot create a network namespace")?;
    link_up(LO_INDEX).context("cannot bring the loopback interface up")
}

/// The `RTM_NEWLINK` message setting `IFF_UP` on interface `index`.
fn newlink_up(index: i32, seq: u32) -> [u8; 32] {
    let mut m = [0u8; 32];
    m[0..4].copy_from_slice(&32u32.to_ne_bytes());
    m[4..6].copy_from_slice(&RTM_NEWLINK.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    // ifinfomsg: family 0, pad, type 0, index, flags, change
    m[20..24].copy_from_slice(&index.to_ne_bytes());
    m[24..28].copy_from_slice(&IFF_UP.to_ne_bytes());
    m[28..32].copy_from_slice(&IFF_UP.to_ne_bytes());
    m
}

fn link_up(index: i32) -> Result<()> {
    let sock = rustix::net::socket(AddressFamily::NETLINK, SocketType::RAW, None)?; // protocol 0 = NETLINK_ROUTE
    let kernel = SocketAddrNetlink::new(0, 0);
    rustix::net::sendto(&sock, &newlink_up(index, 1), SendFlags::empty(), &kernel)?;
    let mut buf = [0u8; 1024];
    let (_, n) = rustix::net::recv(&sock, &mut buf[..], RecvFlags::empty())?;
    if n < 20 || u16::from_ne_bytes([buf[4], buf[5]]) != NLMSG_ERROR {
        bail!("unexpected rtnetlink answer");
    }
    let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
    if err != 0 {
        return Err(std::io::Error::from_raw_os_error(-err).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_message_layout() {
        let m = newlink_up(1, 7);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 32);
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), RTM_NEWLINK);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 1);
        assert_eq!(u32::from_ne_bytes(m[28..32].try_into().unwrap()), IFF_UP);
    }
}
