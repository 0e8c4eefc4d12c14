// SPDX-License-Identifier: Apache-2.0
//! config.md: version, root, mounts, hostname, domainname, annotations, extensibility and
//! valid values.

use anyhow::{Result, ensure};
use serde_json::json;
use stockade_e2e::harness::{Case, case};
use stockade_e2e::{Bundle, probe};

use crate::{create_fails, mount_of, mount_opts, probe_with, rt};

pub const CASES: &[Case] = &[
    case(
        "config.md#specification-version",
        "MUST",
        "an ociVersion that is not SemVer is refused",
        &["misc_props"],
        version_semver,
    ),
    case(
        "config.md#root",
        "MUST",
        "a missing root.path directory is refused",
        &[],
        root_missing,
    ),
    case(
        "config.md#root",
        "MUST",
        "readonly: true makes the root read-only",
        &["root_readonly_true"],
        root_readonly,
    ),
    case(
        "config.md#root",
        "FIELD",
        "readonly defaults to false (root writable)",
        &["root_readonly_false"],
        root_writable,
    ),
    case(
        "config.md#mounts",
        "MUST",
        "mounts are made in the listed order",
        &["mounts"],
        mounts_in_order,
    ),
    case(
        "config.md#mounts",
        "FIELD",
        "a mount appears at its destination with its type and source",
        &["mounts"],
        mounts_exist,
    ),
    case(
        "config.md#linux-mount-options",
        "MUST",
        "ro, nosuid, nodev, noexec, noatime are supported",
        &["mounts"],
        mount_options,
    ),
    case(
        "config.md#linux-mount-options",
        "MUST",
        "bind with ro makes a read-only bind mount",
        &["mounts"],
        bind_ro,
    ),
    case(
        "config.md#hostname",
        "FIELD",
        "hostname is set in the container's UTS namespace",
        &["hostname"],
        hostname,
    ),
    case(
        "config.md#domainname",
        "FIELD",
        "domainname is set in the container's UTS namespace",
        &[],
        domainname,
    ),
    case(
        "config.md#annotations",
        "MUST NOT",
        "unknown annotation keys are not an error",
        &["misc_props"],
        annotations_unknown,
    ),
    case(
        "config.md#extensibility",
        "MUST",
        "unknown properties are ignored",
        &["misc_props"],
        unknown_properties,
    ),
    case(
        "config.md#valid-values",
        "MUST",
        "invalid values are refused (unknown namespace type)",
        &["misc_props"],
        invalid_values,
    ),
];

fn version_semver() -> Result<()> {
    let mut b = Bundle::new("semver")?;
    b.set("/ociVersion", json!("invalid"));
    create_fails(&rt()?, &b)
}

fn root_missing() -> Result<()> {
    let mut b = Bundle::new("rootmissing")?;
    b.set("/root/path", json!("does-not-exist"));
    create_fails(&rt()?, &b)
}

fn root_readonly() -> Result<()> {
    let v = probe_with(&["fill", "/e2e-file", "0"], |b| {
        b.set("/root/readonly", json!(true));
    })?;
    ensure!(
        v["stopped_by"] == "EROFS",
        "creating a file on a read-only root: {v}"
    );
    Ok(())
}

fn root_writable() -> Result<()> {
    let v = probe_with(&["fill", "/e2e-file", "0"], |b| {
        b.remove("/root/readonly");
    })?;
    ensure!(
        v["stopped_by"].is_null(),
        "creating a file on the default root: {v}"
    );
    Ok(())
}

fn mounts_in_order() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.mount("/a", "tmpfs", "first-a", &["size=1m"]).mount(
            "/a/b",
            "tmpfs",
            "second-ab",
            &["size=1m"],
        );
        b.mount("/c", "tmpfs", "first-c", &["size=1m"]).mount(
            "/c",
            "tmpfs",
            "second-c",
            &["size=2m"],
        );
    })?;
    let ab = mount_of(&f, "/a/b").map(|m| m.join(" "));
    ensure!(
        ab.as_deref().is_some_and(|m| m.contains("second-ab")),
        "/a/b was not mounted on top of /a: {ab:?}"
    );
    let c = mount_of(&f, "/c").map(|m| m.join(" ")).unwrap_or_default();
    ensure!(
        c.contains("second-c"),
        "the later mount on /c is not on top: {c}"
    );
    Ok(())
}

fn mounts_exist() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.mount("/mnt/e2e", "tmpfs", "e2e-source", &[]);
    })?;
    let m = mount_of(&f, "/mnt/e2e").ok_or_else(|| anyhow::anyhow!("no mount at /mnt/e2e"))?;
    let dash = m.iter().position(|x| *x == "-").unwrap_or(0);
    ensure!(
        m.get(dash + 1) == Some(&"tmpfs") && m.get(dash + 2) == Some(&"e2e-source"),
        "mount {m:?}"
    );
    Ok(())
}

fn mount_options() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.mount(
            "/opts",
            "tmpfs",
            "tmpfs",
            &["ro", "nosuid", "nodev", "noexec", "noatime"],
        );
    })?;
    let m = mount_of(&f, "/opts").ok_or_else(|| anyhow::anyhow!("no mount at /opts"))?;
    let o = mount_opts(&m);
    for want in ["ro", "nosuid", "nodev", "noexec", "noatime"] {
        ensure!(
            o.iter().any(|x| x == want),
            "option {want} missing from {o:?}"
        );
    }
    Ok(())
}

fn bind_ro() -> Result<()> {
    let mut b = Bundle::new("bindro")?;
    let src = b.path().join("src");
    std::fs::create_dir(&src)?;
    std::fs::write(src.join("f"), "x")?;
    b.mount("/bound", "bind", &src.to_string_lossy(), &["bind", "ro"]);
    let v = probe::run_args(&rt()?, &mut b, &["write", "/bound/f", "y"])?;
    ensure!(
        v["open"]["error"] == "EROFS",
        "writing through a ro bind: {v}"
    );
    ensure!(
        std::fs::read_to_string(src.join("f"))? == "x",
        "the bind source changed"
    );
    Ok(())
}

fn hostname() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.set("/hostname", json!("e2e-host"));
    })?;
    ensure!(f["hostname"] == "e2e-host", "hostname {}", f["hostname"]);
    Ok(())
}

fn domainname() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.set("/domainname", json!("e2e.example"));
    })?;
    ensure!(
        f["domainname"] == "e2e.example",
        "domainname {}",
        f["domainname"]
    );
    Ok(())
}

fn annotations_unknown() -> Result<()> {
    probe_with(&["facts"], |b| {
        b.set(
            "/annotations",
            json!({ "org.stockade.e2e.unknown-key": "", "com.example.other": "v" }),
        );
    })
    .map(|_| ())
}

fn unknown_properties() -> Result<()> {
    probe_with(&["facts"], |b| {
        b.set("/e2eUnknown", json!("unknown"))
            .set("/process/e2eUnknown", json!({ "x": 1 }))
            .set("/linux/e2eUnknown", json!([1]));
    })
    .map(|_| ())
}

fn invalid_values() -> Result<()> {
    let mut b = Bundle::new("invalid")?;
    b.push("/linux/namespaces", json!({ "type": "e2e-bogus" }));
    create_fails(&rt()?, &b)
}
