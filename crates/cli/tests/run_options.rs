// SPDX-License-Identifier: Apache-2.0
//! Flags of `stockade exec`: `--contain`, `--containall`, `--bind` ro/rw, `--writable-tmpfs`,
//! `--net --network none`, `--fakeroot`, `--pwd`, `--no-mount`, `--hostname`, as root and
//! as a plain user.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod run_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use run_support::*;

/// Runs as root and as the test user (from `cwd`, the user's home for the user).
fn both(args: &[&str], check: impl Fn(&str, Output)) {
    check("root", run_root(Path::new("/tmp"), args));
    let (_, _, home) = test_user();
    check("user", run_user(&home, args));
}

#[test]
fn contain_hides_host_home_and_tmp() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let (_, _, home) = test_user();
    std::fs::write(home.join("contain-marker"), "x").unwrap();
    std::fs::write("/root/contain-marker", "x").unwrap();
    std::fs::write("/tmp/sk-run-contain-marker", "x").unwrap();
    let script = "ls -A $HOME; ls /tmp | grep -c sk-run-contain-marker; echo pwd=$(pwd)";
    both(
        &[
            "exec",
            "--contain",
            sif.to_str().unwrap(),
            "sh",
            "-c",
            script,
        ],
        |who, o| {
            let out = ok(&o);
            assert!(
                !out.contains("contain-marker"),
                "{who}: host home visible: {out}"
            );
            assert!(out.contains("0\n"), "{who}: host /tmp visible: {out}");
        },
    );
    let _ = std::fs::remove_file("/root/contain-marker");
    let _ = std::fs::remove_file("/tmp/sk-run-contain-marker");
    assert_nothing_left(&sif);
}

#[test]
fn containall_isolates_pid_ipc_and_env() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let host_pid = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let host_ipc = std::fs::read_link("/proc/self/ns/ipc").unwrap();
    let script = "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; echo [$HOSTVAR]; echo $$; ls /proc | grep -c '^[0-9]'";
    let o = std::process::Command::new(stockade())
        .args([
            "exec",
            "--containall",
            sif.to_str().unwrap(),
            "sh",
            "-c",
            script,
        ])
        .env("HOSTVAR", "leak")
        .current_dir("/tmp")
        .output()
        .unwrap();
    let out = ok(&o);
    let l: Vec<&str> = out.lines().collect();
    assert_ne!(l[0], host_pid.to_str().unwrap());
    assert_ne!(l[1], host_ipc.to_str().unwrap());
    assert_eq!(l[2], "[]");
    assert_eq!(
        l[3], "1",
        "the action shell is pid 1 of the new pid namespace"
    );
    assert!(
        l[4].parse::<u32>().unwrap() < 5,
        "host processes visible: {out}"
    );
    // the same as the plain user (host namespaces of a user process are the host's)
    let (_, _, home) = test_user();
    let o = user_command(
        &home,
        &[
            "exec",
            "--containall",
            sif.to_str().unwrap(),
            "sh",
            "-c",
            script,
        ],
    )
    .env("HOSTVAR", "leak")
    .output()
    .unwrap();
    let out = ok(&o);
    let l: Vec<&str> = out.lines().collect();
    assert_ne!(
        l[0],
        host_pid.to_str().unwrap(),
        "user: pid namespace shared"
    );
    assert_ne!(
        l[1],
        host_ipc.to_str().unwrap(),
        "user: ipc namespace shared"
    );
    assert_eq!(l[2], "[]", "user: host environment passed");
    assert_eq!(l[3], "1", "user: the action shell is not pid 1");
    assert!(
        l[4].parse::<u32>().unwrap() < 5,
        "user: host processes visible: {out}"
    );
    // without --containall the user shares the host's pid and ipc namespaces and env
    let o = user_command(&home, &["exec", sif.to_str().unwrap(), "sh", "-c", script])
        .env("HOSTVAR", "leak")
        .output()
        .unwrap();
    let out = ok(&o);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], host_pid.to_str().unwrap());
    assert_eq!(l[1], host_ipc.to_str().unwrap());
    assert_eq!(l[2], "[leak]");
    assert_nothing_left(&sif);
}

#[test]
fn bind_read_only_and_read_write() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(data.join("in"), "host data\n").unwrap();
    let s = sif.to_str().unwrap();
    let d = data.to_str().unwrap();
    both(
        &[
            "exec",
            "--bind",
            &format!("{d}:/mnt/data:ro"),
            s,
            "sh",
            "-c",
            "cat /mnt/data/in; echo x > /mnt/data/w || echo denied",
        ],
        |who, o| {
            let out = ok(&o);
            assert_eq!(out, "host data\ndenied\n", "{who}");
            assert!(
                !data.join("w").exists(),
                "{who}: wrote through a read-only bind"
            );
        },
    );
    both(
        &[
            "exec",
            "-B",
            &format!("{d}:/deep/new/dir"),
            s,
            "sh",
            "-c",
            "echo written > /deep/new/dir/w-$(id -u)",
        ],
        |who, o| {
            ok(&o);
            let _ = who;
        },
    );
    assert_eq!(
        std::fs::read_to_string(data.join("w-0")).unwrap(),
        "written\n"
    );
    let (uid, _, _) = test_user();
    assert_eq!(
        std::fs::read_to_string(data.join(format!("w-{uid}"))).unwrap(),
        "written\n"
    );
    for bad in [
        "/tmp:/proc/x",
        "/tmp:/sys",
        "/tmp:/dev/foo",
        "/tmp:/",
        "/does/not/exist:/x",
    ] {
        let o = run_root(dir.path(), &["exec", "--bind", bad, s, "true"]);
        assert_eq!(o.status.code(), Some(255), "{bad} accepted");
        assert_eq!(err(&o).lines().count(), 1, "{}", err(&o));
    }
    let (_, _, home) = test_user();
    let o = run_user(&home, &["exec", "--bind", "/root:/x", s, "true"]);
    assert_eq!(
        o.status.code(),
        Some(255),
        "user bound an unreadable directory"
    );
    assert!(err(&o).contains("/root"), "{}", err(&o));
    assert_nothing_left(&sif);
}

#[test]
fn writable_tmpfs_is_writable_and_discarded() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let s = sif.to_str().unwrap();
    both(
        &[
            "exec",
            s,
            "sh",
            "-c",
            "touch /newfile 2>/dev/null && echo wrote || echo ro",
        ],
        |who, o| {
            assert_eq!(ok(&o), "ro\n", "{who}");
        },
    );
    both(
        &[
            "exec",
            "--writable-tmpfs",
            s,
            "sh",
            "-c",
            "echo hi > /newfile && cat /newfile && mkdir -p /opt/x && echo ok",
        ],
        |who, o| {
            assert_eq!(ok(&o), "hi\nok\n", "{who}");
        },
    );
    both(
        &[
            "exec",
            s,
            "sh",
            "-c",
            "test -e /newfile && echo kept || echo gone",
        ],
        |who, o| {
            assert_eq!(ok(&o), "gone\n", "{who}");
        },
    );
    assert_nothing_left(&sif);
}

#[test]
fn network_none_has_only_loopback() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let s = sif.to_str().unwrap();
    let script = "ls /sys/class/net; grep -c : /proc/net/dev; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags";
    both(
        &["exec", "--net", "--network", "none", s, "sh", "-c", script],
        |who, o| {
            let out = ok(&o);
            let l: Vec<&str> = out.lines().collect();
            assert_eq!(l[0], "lo", "{who}: {out}");
            assert_eq!(l[1], "1", "{who}: {out}");
            let flags = u32::from_str_radix(l[3].trim_start_matches("0x"), 16).unwrap();
            assert_eq!(flags & 1, 1, "{who}: lo is not up: {out}");
        },
    );
    let o = run_root(
        dir.path(),
        &["exec", "--net", "--network", "bridge", s, "true"],
    );
    assert_eq!(o.status.code(), Some(255));
    assert_nothing_left(&sif);
}

#[test]
fn fakeroot_is_root_inside() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let (uid, _, home) = test_user();
    let out = ok(&run_user(
        &home,
        &[
            "exec",
            "--fakeroot",
            sif.to_str().unwrap(),
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox",
        ],
    ));
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "0");
    let first: Vec<&str> = l[1].split_whitespace().collect();
    assert_eq!(first, ["0", &uid.to_string(), "1"], "{out}");
    assert_eq!(
        l.last().unwrap(),
        &"0",
        "image files owned by root inside: {out}"
    );
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    if let Some(range) = subuid
        .lines()
        .find_map(|x| x.strip_prefix(&format!("{USER}:")))
    {
        let (start, count) = range.split_once(':').unwrap();
        let second: Vec<&str> = l[2].split_whitespace().collect();
        assert_eq!(
            second,
            ["1", start, count],
            "subordinate ids not mapped: {out}"
        );
    }
    assert_nothing_left(&sif);
}

#[test]
fn pwd_hostname_and_no_mount() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let s = sif.to_str().unwrap();
    both(
        &[
            "exec",
            "--pwd",
            "/etc",
            "--hostname",
            "box1",
            s,
            "sh",
            "-c",
            "pwd; hostname",
        ],
        |who, o| {
            assert_eq!(ok(&o), "/etc\nbox1\n", "{who}");
        },
    );
    let script = "grep -c -e ' /tmp ' -e ' /home/' -e ' /root ' /proc/self/mountinfo; true";
    both(
        &["exec", "--no-mount", "home,tmp,cwd", s, "sh", "-c", script],
        |who, o| {
            assert_eq!(ok(&o), "0\n", "{who}");
        },
    );
    assert_nothing_left(&sif);
}

#[test]
fn home_and_env_file() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let s = sif.to_str().unwrap();
    let other = dir.path().join("otherhome");
    std::fs::create_dir(&other).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(other.join("h"), "other home\n").unwrap();
    let envf = dir.path().join("env");
    std::fs::write(
        &envf,
        "# comment\nexport OVERRIDE_ME='from file'\nFILEVAR=1\n",
    )
    .unwrap();
    std::fs::set_permissions(&envf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let home_arg = format!("{}:/home/elsewhere", other.display());
    let script = "echo $HOME; cat $HOME/h; echo $OVERRIDE_ME $FILEVAR; pwd";
    let args = [
        "exec",
        "--home",
        &home_arg,
        "--env-file",
        envf.to_str().unwrap(),
        s,
        "sh",
        "-c",
        script,
    ];
    both(&args, |who, o| {
        let out = ok(&o);
        let l: Vec<&str> = out.lines().collect();
        assert_eq!(
            &l[..3],
            ["/home/elsewhere", "other home", "from file 1"],
            "{who}: {out}"
        );
    });
    let script = "grep -c -e ' /root ' -e ' /home/' /proc/self/mountinfo; true";
    both(&["exec", "--no-home", s, "sh", "-c", script], |who, o| {
        assert_eq!(ok(&o), "0\n", "{who}");
    });
    assert_nothing_left(&sif);
}
