//! The built binary, end to end, on temp files: `-P` instead of procfs and
//! `-T` instead of the clock. Each bad input must give its exit code and a
//! one-line message, and leave the target byte-for-byte as it was.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

#[test]
fn spec_vector_via_key_file() {
    let d = Dir::new("vector");
    let (key, target) = (d.spec_key(), d.target());
    let o = run(&[
        "-V",
        "-k",
        key.to_str().unwrap(),
        "-P",
        target.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // One write of the 71 characters and a NUL, as 1.3.4.
    assert_eq!(bytes(&target), format!("{SPEC_PAIR}\0").as_bytes());
    let err = stderr(&o);
    assert!(
        err.lines().any(|l| l
            == format!("info: Generated ASCII TFO keys for procfs write: [1000000] {SPEC_PAIR}")),
        "{err}"
    );
    // The info line: time, interval, both counters, next rotation.
    let info = err
        .lines()
        .find(|l| l.starts_with("info: keys set:"))
        .expect(&err);
    for part in [
        "time 1000000",
        "interval 86400",
        "counters 11 primary 12 backup",
        "next rotation 1036800",
    ] {
        assert!(info.contains(part), "{part} missing from {info}");
    }
}

#[test]
fn spec_vector_via_autokey() {
    let d = Dir::new("vector-auto");
    let auto = d.file("auto.key", &hex::decode(SPEC_MAIN).unwrap());
    let target = d.target();
    let o = run(&["-a", auto.to_str().unwrap(), "-P", target.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(bytes(&target), format!("{SPEC_PAIR}\0").as_bytes());
    assert!(!stderr(&o).contains("created a new random main key"));
}

#[test]
fn only_the_first_32_bytes_count() {
    let d = Dir::new("long-key");
    let mut long = hex::decode(SPEC_MAIN).unwrap();
    long.extend_from_slice(b"trailing bytes are ignored, as 1.3.4 does\n");
    let key = d.file("long.key", &long);
    let o = run(&["-V", "-n", "-k", key.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(keys_line(&o), SPEC_PAIR);
}

/// A main key of text, as `openssl rand -hex 32 > key` makes (here the
/// test key's own hex and a newline): its first 32 characters are the key,
/// as 1.3.4 took them (the pair below is Python's hashlib on those 32
/// bytes), with one warning that names the source and the fix and holds
/// no byte of the key. Piped in, or as a credential (named by the admin's
/// file), the same; a binary key and an autokey get no such warning.
#[test]
fn a_key_of_text_is_used_with_a_warning() {
    const TEXT_PAIR: &str =
        "ef7f9948-362ed056-74d6afec-3403930f,636cf0a8-e7ae25c3-49ae4ab0-9e5a1a85";
    let text_warnings = |o: &std::process::Output| -> Vec<String> {
        assert!(o.status.success(), "{}", stderr(o));
        let err = stderr(o);
        assert_no_secrets(&err, &[SPEC_MAIN.as_bytes()[..32].to_vec()]);
        err.lines()
            .filter(|l| l.starts_with("warning: ") && l.contains(" is text, as "))
            .map(str::to_string)
            .collect()
    };
    let d = Dir::new("text-key");
    let key = d.file("hex.key", format!("{SPEC_MAIN}\n").as_bytes());
    let target = d.target();
    let o = run(&["-k", key.to_str().unwrap(), "-P", target.to_str().unwrap()]);
    assert_eq!(bytes(&target), format!("{TEXT_PAIR}\0").as_bytes());
    let warned = text_warnings(&o);
    assert_eq!(warned.len(), 1, "{}", stderr(&o));
    let w = &warned[0];
    assert!(
        w.starts_with(&format!(
            "warning: main key file {} is text, as ",
            key.display()
        )),
        "{w}"
    );
    for part in [
        "only its first 32 characters are the key (as in 1.3.4)",
        "'(umask 077; head -c 32 /dev/urandom > FILE)'",
        "'openssl rand 32 > FILE'",
        "(README, \"Replacing the main key\")",
    ] {
        assert!(w.contains(part), "{part}: {w}");
    }

    // Piped in: the same key, named as standard input.
    let mut child = tofurkey()
        .args(["-V", "-n", "-k", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        format!("{SPEC_MAIN}\n").as_bytes(),
    )
    .unwrap();
    let o = bounded_wait(child);
    assert_eq!(keys_line(&o), TEXT_PAIR);
    let warned = text_warnings(&o);
    assert_eq!(warned.len(), 1, "{}", stderr(&o));
    assert!(warned[0].starts_with("warning: standard input is text, as "));

    // A credential: named by where the admin put it, not systemd's copy.
    let creds = d.path("creds");
    fs::create_dir(&creds).unwrap();
    d.file("creds/tofurkey.key", format!("{SPEC_MAIN}\n").as_bytes());
    let o = tofurkey()
        .env("CREDENTIALS_DIRECTORY", &creds)
        .args(["-V", "-n"])
        .output()
        .unwrap();
    assert_eq!(keys_line(&o), TEXT_PAIR);
    let warned = text_warnings(&o);
    assert_eq!(warned.len(), 1, "{}", stderr(&o));
    assert!(
        warned[0].starts_with(
            "warning: credential tofurkey.key (from /etc/credstore/tofurkey.key or \
             /etc/credstore.encrypted/tofurkey.key) is text, as "
        ),
        "{}",
        warned[0]
    );
    assert!(!warned[0].contains(creds.to_str().unwrap()));

    // A binary key: no such warning; nor an autokey, which is ours.
    let o = run(&["-n", "-k", d.spec_key().to_str().unwrap()]);
    assert_eq!(text_warnings(&o), Vec::<String>::new());
    let auto = d.file("auto.key", &SPEC_MAIN.as_bytes()[..32]);
    let o = run(&["-n", "-a", auto.to_str().unwrap()]);
    assert_eq!(text_warnings(&o), Vec::<String>::new());
}

#[test]
fn dry_run_writes_nothing_and_says_so() {
    let d = Dir::new("dry");
    let (key, target) = (d.spec_key(), d.target());
    let o = run(&[
        "-n",
        "-k",
        key.to_str().unwrap(),
        "-P",
        target.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(bytes(&target), OLD_PAIR);
    assert!(
        stderr(&o).contains("dry run (-n), keys not written"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn one_shot_flag_changes_nothing() {
    let d = Dir::new("oneshot");
    let key = d.spec_key();
    let a = run(&["-V", "-n", "-k", key.to_str().unwrap()]);
    let b = run(&["-Vno", "-k", key.to_str().unwrap()]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(keys_line(&a), keys_line(&b));
}

#[test]
fn autokey_created_then_reused() {
    let d = Dir::new("autokey");
    let (auto, target) = (d.path("auto.key"), d.target());
    let args = [
        "-V",
        "-a",
        auto.to_str().unwrap(),
        "-P",
        target.to_str().unwrap(),
    ];
    let first = run(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("no cross-host sync"),
        "{}",
        stderr(&first)
    );
    let meta = fs::metadata(&auto).unwrap();
    assert_eq!((meta.len(), meta.permissions().mode() & 0o777), (32, 0o600));
    let stored = fs::read(&auto).unwrap();

    let second = run(&args);
    assert!(second.status.success());
    // Every autokey run warns, not only the one that made it (as 1.3.4).
    let warning = format!(
        "warning: using the main key in autokey {}: autokey mode gives no cross-host sync; \
         give every host the same key with -k or the credential tofurkey.key",
        auto.display()
    );
    assert!(
        stderr(&second).lines().any(|l| l == warning),
        "{}",
        stderr(&second)
    );
    assert!(!stderr(&second).contains("created a new random"));
    assert_eq!(fs::read(&auto).unwrap(), stored, "autokey must be reused");
    assert_eq!(keys_line(&first), keys_line(&second));
    // And the keys are the ones that key derives.
    let via_k = run(&["-V", "-n", "-k", auto.to_str().unwrap()]);
    assert_eq!(keys_line(&via_k), keys_line(&first));
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(&d.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "only target and key: {names:?}");
}

/// An autokey named without a directory lives in the current one.
#[test]
fn relative_autokey() {
    let d = Dir::new("relative-autokey");
    let o = bounded(
        tofurkey()
            .current_dir(&d.0)
            .args(["-V", "-n", "-a", "auto.key"]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let via_k = run(&["-V", "-n", "-k", d.path("auto.key").to_str().unwrap()]);
    assert_eq!(keys_line(&o), keys_line(&via_k));
}

/// A short autokey (written by hand, or cut off by a crash of 1.3.4, which
/// wrote it in place) is an error naming the fix; it is never replaced, so
/// that no run ever disagrees with another about which key is in place.
#[test]
fn short_autokey_is_refused_not_replaced() {
    let d = Dir::new("autokey-short");
    let auto = d.file("auto.key", b"cut off by a crash");
    let o = run(&["-n", "-a", auto.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!(
            "error: autokey {} holds 18 bytes, needs 32: remove it, and the next run makes a \
             new one\n",
            auto.display()
        )
    );
    assert_eq!(fs::read(&auto).unwrap(), b"cut off by a crash");
}

#[test]
fn concurrent_first_runs_agree_on_one_autokey() {
    let d = Dir::new("race");
    let auto = d.path("auto.key");
    for round in 0..5 {
        let _ = fs::remove_file(&auto);
        let children: Vec<_> = (0..12)
            .map(|_| {
                tofurkey()
                    .args(["-V", "-n", "-a", auto.to_str().unwrap()])
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<_> = children.into_iter().map(bounded_wait).collect();
        assert!(outs.iter().all(|o| o.status.success()));
        let created = outs
            .iter()
            .filter(|o| stderr(o).contains("created a new random"))
            .count();
        assert_eq!(created, 1, "round {round}: exactly one run creates the key");
        let on_disk = run(&["-V", "-n", "-k", auto.to_str().unwrap()]);
        for o in &outs {
            assert_eq!(
                keys_line(o),
                keys_line(&on_disk),
                "round {round}: every run used the stored key"
            );
        }
    }
}

/// With `$CREDENTIALS_DIRECTORY`: `-k` beats the credential, the credential
/// beats the autokey, and `-a` ignores the credential.
#[test]
fn credential_precedence() {
    let d = Dir::new("cred");
    let creds = d.path("creds");
    fs::create_dir(&creds).unwrap();
    d.file("creds/tofurkey.key", &hex::decode(SPEC_MAIN).unwrap());
    let other = d.file("other.key", &[0x5a; 32]);
    let auto = d.file("auto.key", &[0xa5; 32]);
    let keys = |args: &[&str]| {
        let o = tofurkey()
            .env("CREDENTIALS_DIRECTORY", &creds)
            .args(["-V", "-n"])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        (keys_line(&o), stderr(&o))
    };
    let (by_cred, log) = keys(&[]);
    assert_eq!(by_cred, SPEC_PAIR);
    assert!(log.contains("credential tofurkey.key"), "{log}");
    let (by_k, _) = keys(&["-k", other.to_str().unwrap()]);
    assert_eq!(
        by_k,
        keys_line(&run(&["-V", "-n", "-k", other.to_str().unwrap()]))
    );
    assert_ne!(by_k, SPEC_PAIR);
    let (by_a, log) = keys(&["-a", auto.to_str().unwrap()]);
    assert_eq!(
        by_a,
        keys_line(&run(&["-V", "-n", "-k", auto.to_str().unwrap()]))
    );
    assert!(log.contains("autokey"), "{log}");
}

/// Without `-k`, `-a` or a credential the default autokey in /run is used.
/// Run in a private mount namespace with its own /run, so the host's is
/// never touched.
#[test]
fn default_autokey_without_credential() {
    assert!(
        is_root(),
        "this test needs root (a private /run); run the suite as root"
    );
    let d = Dir::new("default-auto");
    let creds = d.path("creds");
    fs::create_dir(&creds).unwrap(); // set but without tofurkey.key
    let script = format!(
        "{bin} -v -n -T 1000000 && stat -c '%s %a' /run/tofurkey.autokey",
        bin = BIN
    );
    let o = with_private_run(&script)
        .env("CREDENTIALS_DIRECTORY", &creds)
        .output()
        .expect("unshare");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("autokey /run/tofurkey.autokey"),
        "{}",
        stderr(&o)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "32 600");
}

#[test]
fn version_and_help() {
    let o = run(&["--version"]);
    assert!(o.status.success());
    // Above 1.3.4, which it replaces, and the man page's.
    let out = String::from_utf8_lossy(&o.stdout);
    let version = out.strip_prefix("tofurkey ").unwrap().trim();
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(parts > vec![1, 3, 4], "{version}");
    assert!(include_str!("../tofurkey.8").contains(&format!("\"tofurkey {version}\"")));
    let o = run(&["-h"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("Usage: tofurkey"));
}

/// Every key-setting run reads the kernel's NTP state (for real: the host's
/// clock is what it is) and warns when the clock is not synchronized, keys
/// set all the same. Compared with the test's own adjtimex read.
#[test]
fn an_unsynchronized_clock_is_reported_and_the_keys_set() {
    let kernel_says_unsynced = || {
        // SAFETY: a zeroed timex (plain C data) with modes 0: read only.
        let (state, status) = unsafe {
            let mut tx: libc::timex = std::mem::zeroed();
            (libc::adjtimex(&mut tx), tx.status)
        };
        assert!(state >= 0, "adjtimex failed");
        state == 5 || status & 0x40 != 0
    };
    let d = Dir::new("clock");
    let (key, target) = (d.spec_key(), d.target());
    let before = kernel_says_unsynced();
    let o = run(&["-k", key.to_str().unwrap(), "-P", target.to_str().unwrap()]);
    let after = kernel_says_unsynced();
    assert_eq!(
        before, after,
        "the clock's state changed during the test: run it again"
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(bytes(&target), OLD_PAIR, "keys not set");
    let warned = stderr(&o)
        .lines()
        .any(|l| l.starts_with("warning: the system clock is not synchronized"));
    assert_eq!(warned, before, "{}", stderr(&o));
    // A dry run warns the same, but sets nothing and does not say it did.
    let o = run(&["-n", "-k", key.to_str().unwrap()]);
    assert_eq!(
        kernel_says_unsynced(),
        before,
        "the clock's state changed: run it again"
    );
    let warning = stderr(&o)
        .lines()
        .find(|l| l.starts_with("warning: the system clock is not synchronized"))
        .map(str::to_string);
    assert_eq!(warning.is_some(), before, "{}", stderr(&o));
    if let Some(w) = warning {
        assert!(
            w.contains("(a dry run: nothing set)") && !w.contains("keys set anyway"),
            "{w}"
        );
    }
}
