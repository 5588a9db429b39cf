//! `--check`: each verdict with its exit code and one line on stdout, no key
//! material, and nothing changed or created on disk.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const T: &str = "1800000000";
const NOW: u64 = 1_800_000_000;

/// Sets a target with a real run at time `t`, as a host would have.
fn set_at(key: &Path, target: &Path, t: u64) {
    let o = run(&[
        "-k",
        key.to_str().unwrap(),
        "-T",
        &t.to_string(),
        "-P",
        target.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The test vector key's pairs that --check computes at NOW: expected,
/// previous, next.
fn secret_pairs() -> Vec<String> {
    let d = Dir::new("check-secrets");
    let key = d.spec_key();
    [NOW - 43_200, NOW, NOW + 43_200]
        .iter()
        .map(|t| {
            keys_line(&run(&[
                "-V",
                "-n",
                "-k",
                key.to_str().unwrap(),
                "-T",
                &t.to_string(),
            ]))
        })
        .collect()
}

/// Runs `--check`, asserting one line, no secrets and no change on disk.
fn check(d: &Dir, args: &[&str]) -> (i32, String) {
    let before = snapshot(&d.0);
    let o: Output = run(&[&["--check"], args].concat());
    assert_eq!(snapshot(&d.0), before, "--check changed the directory");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(out.lines().count(), 1, "one line: {out}");
    let pairs = secret_pairs();
    let pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    assert_no_secrets(&out, &secrets(&pairs));
    (o.status.code().unwrap(), out)
}

#[test]
fn each_verdict() {
    let d = Dir::new("check");
    let key = d.spec_key();
    let target = d.target();
    let (k, t) = (key.to_str().unwrap(), target.to_str().unwrap());
    let half = 43_200;

    set_at(&key, &target, NOW);
    let (code, out) = check(&d, &["-k", k, "-T", T, "-P", t]);
    assert_eq!((code, out.starts_with("OK:")), (0, true), "{out}");

    set_at(&key, &target, NOW - half);
    let (code, out) = check(&d, &["-k", k, "-T", T, "-P", t]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("WARNING:") && out.contains("previous"),
        "{out}"
    );

    set_at(&key, &target, NOW + half);
    let (code, out) = check(&d, &["-k", k, "-T", T, "-P", t]);
    assert!(code == 1 && out.contains("next"), "{out}");

    // Another main key, and the same key with another interval.
    let other = d.file("other.key", &[0x42; 32]);
    set_at(&other, &target, NOW);
    let (code, out) = check(&d, &["-k", k, "-T", T, "-P", t]);
    assert!(
        code == 2 && out.contains("another main key or interval"),
        "{out}"
    );
    set_at(&key, &target, NOW);
    let (code, out) = check(&d, &["-k", k, "-i", "3600", "-T", T, "-P", t]);
    assert!(
        code == 2 && out.contains("another main key or interval"),
        "{out}"
    );

    for (held, want) in [
        (
            &b"00000000-00000000-00000000-00000000,00000000-00000000-00000000-00000000\n"[..],
            "never-set",
        ),
        (b"00000000-00000000-00000000-00000000\n", "never-set"),
        (b"5f1d2c3b-00aa11bb-22cc33dd-44ee55ff\n", "never-set"),
        (b"not keys at all\n", "does not hold a key pair"),
    ] {
        fs::write(&target, held).unwrap();
        let (code, out) = check(&d, &["-k", k, "-T", T, "-P", t]);
        assert!(
            code == 2 && out.starts_with("CRITICAL:") && out.contains(want),
            "{out}"
        );
    }
}

#[test]
fn unknown_when_something_cannot_be_read() {
    let d = Dir::new("check-unknown");
    let key = d.spec_key();
    let target = d.target();
    let (code, out) = check(
        &d,
        &[
            "-k",
            key.to_str().unwrap(),
            "-T",
            T,
            "-P",
            d.path("none").to_str().unwrap(),
        ],
    );
    assert!(
        code == 3 && out.starts_with("UNKNOWN: cannot read "),
        "{out}"
    );
    let (code, out) = check(
        &d,
        &[
            "-k",
            d.path("nokey").to_str().unwrap(),
            "-T",
            T,
            "-P",
            target.to_str().unwrap(),
        ],
    );
    assert!(
        code == 3 && out.contains("cannot read main key file"),
        "{out}"
    );
    // A missing autokey is not created by --check.
    let auto = d.path("auto.key");
    let (code, out) = check(
        &d,
        &[
            "-a",
            auto.to_str().unwrap(),
            "-T",
            T,
            "-P",
            target.to_str().unwrap(),
        ],
    );
    assert!(code == 3 && out.contains("autokey"), "{out}");
    // Nor is its directory: a missing one is a missing key, not a failure
    // to create one.
    let nowhere = d.path("no/such/auto.key");
    let (code, out) = check(
        &d,
        &[
            "-a",
            nowhere.to_str().unwrap(),
            "-T",
            T,
            "-P",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (code, out.as_str()),
        (
            3,
            format!(
                "UNKNOWN: cannot read autokey {}: No such file or directory: check the path and \
                 its permissions\n",
                nowhere.display()
            )
            .as_str()
        )
    );
    assert!(!auto.exists());
    assert_eq!(bytes(&target), OLD_PAIR);
}

/// Against a real kernel: a fresh network namespace holds never-set keys;
/// after a run it is in sync.
#[test]
fn real_kernel_namespace() {
    assert!(is_root(), "this test needs root (a network namespace)");
    let d = Dir::new("check-netns");
    let key = d.spec_key();
    let bin = BIN;
    let script = format!(
        "{bin} --check -k {k} -T {T}; echo \"exit $?\"; {bin} -k {k} -T {T} 2>/dev/null; \
         {bin} --check -k {k} -T {T}; echo \"exit $?\"",
        k = key.display()
    );
    let o = without_systemd_env(Command::new("unshare"))
        .args(["--net", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}{}", stderr(&o));
    assert!(
        lines[0].starts_with("CRITICAL: the target holds never-set keys"),
        "{out}"
    );
    assert_eq!(lines[1], "exit 2");
    assert!(lines[2].starts_with("OK:"), "{out}");
    assert_eq!(lines[3], "exit 0");
}
