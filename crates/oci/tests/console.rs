// SPDX-License-Identifier: Apache-2.0
//! terminal: true. With --console-socket the engine receives the pty master (SCM_RIGHTS)
//! and sees the container's output on it; without one, a foreground `run` proxies it.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::io::Read;

use common::{Bundle, assert_nothing_left, unique_id};

#[test]
fn test_console_socket_receives_master() {
    stockade_testutil::require_root!();
    let mut cfg = common::default_config(&["/bin/sh", "-c", "tty; echo console-ok"]);
    cfg["process"]["terminal"] = serde_json::json!(true);
    cfg["process"]["consoleSize"] = serde_json::json!({"height": 40, "width": 123});
    let b = Bundle::new(&cfg);
    let sock = b.path().join("console.sock");
    let waiter = common::console_receiver(&sock);
    let id = unique_id("console");
    let _c = common::Cleanup(&b, id.clone());
    b.create(&id, &["--console-socket", sock.to_str().unwrap()]);
    let master = waiter.join().unwrap();
    let ws = rustix::termios::tcgetwinsize(&master).unwrap();
    assert_eq!((ws.ws_row, ws.ws_col), (40, 123));
    b.ok(&["start", &id]);
    let mut out = String::new();
    let mut f = std::fs::File::from(master);
    let mut buf = [0u8; 256];
    while !out.contains("console-ok") {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(
        out.contains("/dev/pts/0") && out.contains("console-ok"),
        "{out:?}"
    );
    b.ok(&["delete", "--force", &id]);
    assert_nothing_left(&b, &id);
}

#[test]
fn test_terminal_without_socket_needs_foreground() {
    stockade_testutil::require_root!();
    let mut cfg = common::default_config(&["/bin/true"]);
    cfg["process"]["terminal"] = serde_json::json!(true);
    let b = Bundle::new(&cfg);
    let id = unique_id("notty");
    let _c = common::Cleanup(&b, id.clone());
    let o = b.out(&["create", "--bundle", ".", &id]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("console-socket"));
    assert_nothing_left(&b, &id);
}
