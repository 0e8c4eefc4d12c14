// SPDX-License-Identifier: Apache-2.0
//! Parsing of whole definition files: sections, header, arguments, errors naming the line.

use super::*;

fn parse(s: &str) -> Result<DefFile, BuildError> {
    DefFile::parse(Path::new("t.def"), s.as_bytes().to_vec(), &BTreeMap::new())
}

fn msg(s: &str) -> String {
    parse(s).unwrap_err().to_string()
}

#[test]
fn sections_and_header() {
    let d = parse(
        "# comment\nBootStrap: localimage\nFrom: base.sif # trailing\n\n%post\n  echo hi > /x\n  # kept\n%environment\n export A=1\n%runscript\n exec echo \"$@\"\n%labels\n Author me\n Version 1.0\n%help\nhelp text\n%files\n a.txt /opt/a.txt\n \"b c\"\n%test\n true\n",
    )
    .unwrap();
    assert_eq!(d.header.bootstrap, "localimage");
    assert_eq!(d.header.from.as_deref(), Some("base.sif"));
    let post = d.post.unwrap();
    assert_eq!(post.line, 5);
    assert_eq!(post.body, "  echo hi > /x\n  # kept");
    assert_eq!(d.environment.unwrap().body, " export A=1");
    assert_eq!(
        d.labels,
        vec![
            ("Author".into(), "me".into()),
            ("Version".into(), "1.0".into())
        ]
    );
    assert_eq!(d.files.len(), 2);
    assert_eq!(d.files[0].src, "a.txt");
    assert_eq!(d.files[0].dst.as_deref(), Some("/opt/a.txt"));
    assert_eq!(d.files[1].src, "b c");
    assert_eq!(d.files[1].dst, None);
    assert_eq!(d.help.unwrap().body, "help text");
    assert!(d.test.is_some());
}

#[test]
fn header_continuation_and_case() {
    let d = parse("BOOTSTRAP: oci-archive\nfrom: /tmp/a\\\n.tar\n").unwrap();
    assert_eq!(d.header.bootstrap, "oci-archive");
    assert_eq!(d.header.from.as_deref(), Some("/tmp/a.tar"));
}

#[test]
fn errors_name_the_line() {
    assert_eq!(
        msg("Bootstrap: scratch\n\n%postt\necho\n"),
        "t.def:3: unknown section %postt (known: %help, %setup, %files, %labels, %environment, %post, %runscript, %test, %startscript, %arguments)"
    );
    assert_eq!(
        msg("Bootstrap: scratch\nnonsense line\n"),
        "t.def:2: header line without ':'"
    );
    assert_eq!(
        msg("Bootstrap: scratch\nFrum: x\n"),
        "t.def:2: unknown header keyword 'frum'"
    );
    assert_eq!(
        msg("From: x\n%post\n"),
        "t.def:1: missing 'Bootstrap:' header"
    );
    assert!(
        msg("Bootstrap: docker\nFrom: a\nBootstrap: scratch\n").starts_with("t.def:3: multi-stage")
    );
    assert!(
        msg("Bootstrap: scratch\n%files from build\n a b\n")
            .starts_with("t.def:2: '%files from build'")
    );
    assert!(msg("Bootstrap: scratch\n%files\n a b c\n").starts_with("t.def:3: "));
    assert!(msg("Bootstrap: scratch\n%appinstall foo\n").contains("SCIF"));
    assert_eq!(
        msg("Bootstrap: scratch\n%post\necho {{ NOPE }}\n"),
        "t.def:3: build argument 'NOPE' has no value (define it in %arguments or with --build-arg)"
    );
}

#[test]
fn arguments_substitute() {
    let d = parse("Bootstrap: scratch\n%arguments\n  GREETING=hello\n  N=3\n%post\n echo {{ GREETING }} {{N}}\n").unwrap();
    assert_eq!(d.post.unwrap().body, " echo hello 3");
    let mut over = BTreeMap::new();
    over.insert("GREETING".to_string(), "bye".to_string());
    let d = DefFile::parse(
        Path::new("t.def"),
        b"Bootstrap: scratch\n%arguments\nGREETING=hello\n%post\necho {{ GREETING }}\n".to_vec(),
        &over,
    )
    .unwrap();
    assert_eq!(d.post.unwrap().body, "echo bye");
}

#[test]
fn repeated_sections_concatenate() {
    let d = parse("Bootstrap: scratch\n%post\na\n%post\nb\n").unwrap();
    assert_eq!(d.post.unwrap().body, "a\nb");
}

#[test]
fn substitution_growth_is_bounded() {
    // 64 KiB value named 100 times per line on 1000 lines: far beyond MAX_EXPANDED.
    let mut text = format!(
        "Bootstrap: scratch\n%arguments\nV={}\n%post\n",
        "x".repeat(64 << 10)
    );
    let line = "{{V}}".repeat(100);
    for _ in 0..1000 {
        text.push_str(&line);
        text.push('\n');
    }
    let m = msg(&text);
    assert!(
        m.starts_with("t.def:5: build arguments expand the file beyond"),
        "{m}"
    );
}

#[test]
fn many_invalid_names_stay_text() {
    // Every `{{` shares the one `}}` at the end: each is scanned once, not once per `{{`.
    let body = format!("{}}}}}", "{{ -".repeat(20_000));
    let d = parse(&format!("Bootstrap: scratch\n%post\n{body}\n")).unwrap();
    assert_eq!(d.post.unwrap().body, body);
}
