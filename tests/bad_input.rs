//! Bad input: each case gives a one-line `error:` naming the thing, the
//! documented exit code (1 runtime, 2 usage), no hang, and leaves the target
//! byte-for-byte as it was.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// Runs as root or, with `as_nobody`, as uid/gid 65534 (root reads anything,
/// so permission cases need an unprivileged user).
fn attempt(args: &[&str], as_nobody: Option<&Dir>) -> Output {
    let mut cmd = match as_nobody {
        Some(d) => d.tofurkey_as_nobody(),
        None => tofurkey(),
    };
    cmd.args(args);
    bounded(&mut cmd)
}

fn key_case(d: &Dir, key: &Path, want: &str) {
    let target = d.target();
    let o = attempt(
        &["-k", key.to_str().unwrap(), "-P", target.to_str().unwrap()],
        None,
    );
    refused(&o, 1, want, &target);
}

#[test]
fn bad_key_files() {
    let d = Dir::new("bad-keys");
    let missing = d.path("missing.key");
    key_case(&d, &missing, "cannot read main key file");
    key_case(
        &d,
        &d.file("short.key", &[1; 31]),
        "holds 31 bytes, needs at least 32",
    );
    key_case(&d, &d.file("empty.key", b""), "holds 0 bytes");
    let dir = d.path("keydir");
    fs::create_dir(&dir).unwrap();
    key_case(&d, &dir, "is a directory");
    // A FIFO nobody writes to: must be refused, not waited on.
    let fifo = d.path("key.fifo");
    mkfifo(&fifo);
    key_case(&d, &fifo, "is a FIFO");
    // /dev/zero would even "read" 32 bytes: devices are refused outright.
    key_case(&d, Path::new("/dev/zero"), "is a device");
    let socket = d.path("key.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    key_case(&d, &socket, "is a socket");
    assert!(!missing.exists());
}

#[test]
fn unreadable_key_file() {
    let d = Dir::new("unreadable");
    fs::set_permissions(&d.0, fs::Permissions::from_mode(0o755)).unwrap();
    let key = d.spec_key();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let target = d.target();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o666)).unwrap();
    let o = attempt(
        &["-k", key.to_str().unwrap(), "-P", target.to_str().unwrap()],
        Some(&d),
    );
    refused(&o, 1, "Permission denied", &target);
}

#[test]
fn bad_credentials() {
    let d = Dir::new("bad-cred");
    let creds = d.path("creds");
    fs::create_dir(&creds).unwrap();
    let target = d.target();
    let with_cred = |bytes: &[u8]| {
        d.file("creds/tofurkey.key", bytes);
        let mut c = tofurkey();
        c.env("CREDENTIALS_DIRECTORY", &creds)
            .args(["-P", target.to_str().unwrap()]);
        bounded(&mut c)
    };
    // A short credential fails loudly; it never falls back to an autokey.
    // It is named by the admin's file, not by systemd's copy (which a fix
    // would not reach), and the fix is the cluster's key, not a new one.
    let short = with_cred(&[7; 31]);
    refused(
        &short,
        1,
        "error: credential tofurkey.key (from /etc/credstore/tofurkey.key or \
         /etc/credstore.encrypted/tofurkey.key) holds 31 bytes, needs at least 32: put the \
         cluster's main key there, the same 32 bytes as on its other hosts (a new key would \
         match none of them)",
        &target,
    );
    assert!(!stderr(&short).contains(creds.to_str().unwrap()));
    refused(&with_cred(b""), 1, "holds 0 bytes", &target);
    refused(
        &with_cred(&[0; 32]),
        1,
        "tofurkey.key) is 32 zero bytes",
        &target,
    );

    // Unreadable: root-only file, run as nobody.
    fs::write(creds.join("tofurkey.key"), [7; 32]).unwrap();
    for p in [&d.0, &creds] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(
        creds.join("tofurkey.key"),
        fs::Permissions::from_mode(0o400),
    )
    .unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o666)).unwrap();
    let mut c = d.tofurkey_as_nobody();
    c.env("CREDENTIALS_DIRECTORY", &creds)
        .args(["-P", target.to_str().unwrap()]);
    assert!(is_root(), "needs root to switch to nobody");
    refused(&bounded(&mut c), 1, "cannot read credential", &target);
}

#[test]
fn bad_targets() {
    let d = Dir::new("bad-target");
    let key = d.spec_key();
    let k = key.to_str().unwrap();
    // Missing: an error, and no file appears.
    let missing = d.path("missing-target");
    let o = attempt(&["-k", k, "-P", missing.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: cannot open ") && stderr(&o).contains("No such file"));
    assert!(!missing.exists(), "the target must never be created");
    // Anything but a regular (or procfs) file is refused before it is
    // opened: a directory, a FIFO without a reader, a device that would
    // accept the write and keep nothing.
    let fifo = d.path("target.fifo");
    mkfifo(&fifo);
    for (path, kind) in [
        (d.0.as_path(), "directory"),
        (fifo.as_path(), "FIFO"),
        (Path::new("/dev/null"), "device"),
    ] {
        let o = attempt(&["-k", k, "-P", path.to_str().unwrap()], None);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(
            stderr(&o),
            format!(
                "error: target {} is a {kind}, not a regular or procfs file: check -P\n",
                path.display()
            )
        );
    }
}

/// A `-P` file holding more than a key file can (here /etc/passwd's
/// size) is no target: refused before anything is written, since its
/// content could not be put back exactly after a failed write.
#[test]
fn oversized_target() {
    let d = Dir::new("big-target");
    let key = d.spec_key();
    // 128 bytes are the most a target may hold: taken.
    let most = d.file("most", &[b'x'; 128]);
    let o = attempt(
        &["-k", key.to_str().unwrap(), "-P", most.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let big = vec![b'x'; 129];
    let target = d.file("target", &big);
    let o = attempt(
        &["-k", key.to_str().unwrap(), "-P", target.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!(
            "error: target {} holds more than 128 bytes, so it is no key file: check -P\n",
            target.display()
        )
    );
    assert_eq!(bytes(&target), big);
}

#[test]
fn unwritable_target() {
    let d = Dir::new("ro-target");
    fs::set_permissions(&d.0, fs::Permissions::from_mode(0o755)).unwrap();
    let key = d.spec_key();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let target = d.target(); // root's, 0644: nobody may not write
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
    let o = attempt(
        &["-k", key.to_str().unwrap(), "-P", target.to_str().unwrap()],
        Some(&d),
    );
    refused(&o, 1, "cannot open", &target);
    assert!(stderr(&o).contains("Permission denied"));
}

#[test]
fn bad_autokey_directories() {
    let d = Dir::new("bad-autodir");
    let target = d.target();
    let t = target.to_str().unwrap();
    let nodir = d.path("no/such/dir/auto.key");
    let o = attempt(&["-a", nodir.to_str().unwrap(), "-P", t], None);
    refused(&o, 1, "cannot create autokey", &target);
    assert!(stderr(&o).contains("No such file"));

    fs::set_permissions(&d.0, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o666)).unwrap();
    let auto = d.path("auto.key");
    let o = attempt(&["-a", auto.to_str().unwrap(), "-P", t], Some(&d));
    refused(&o, 1, "cannot create autokey", &target);
    assert!(stderr(&o).contains("Permission denied"));
    assert!(!auto.exists());
    // A directory where the autokey should be is the admin's, not replaced.
    let autodir = d.path("autodir");
    fs::create_dir(&autodir).unwrap();
    let o = attempt(&["-a", autodir.to_str().unwrap(), "-P", t], None);
    refused(&o, 1, "is a directory", &target);
}

#[test]
fn usage_errors_exit_2() {
    let d = Dir::new("usage");
    let key = d.spec_key();
    let target = d.target();
    let (k, t) = (key.to_str().unwrap(), target.to_str().unwrap());
    // One case of each kind: cli.rs's unit tests hold the full tables;
    // this is how the process answers them: one line, ending in a pointer
    // to --help (`refused`), never the whole usage text.
    for (extra, want) in [
        (&["-i", "abc"][..], "not a whole number"),
        (&["-i", "86401"], "interval 86401 is invalid"),
        (&["-T", "999999"], "outside"),
        (&["-a", "/tmp/x"], "exclude each other"),
        (&["stray"], "unexpected argument 'stray'"),
        (&["--nope"], "invalid option '--nope'"),
        (&["-x"], "invalid option '-x'"),
        (&["-k", ""], "empty path"),
    ] {
        let mut args = vec!["-k", k, "-P", t];
        args.extend_from_slice(extra);
        refused(&attempt(&args, None), 2, want, &target);
    }
}

/// A wall clock outside 1,000,000..100,000,000,000 is refused (exit 1).
#[test]
fn clock_out_of_range() {
    let d = Dir::new("clock");
    let key = d.spec_key();
    let target = d.target();
    let mut c = without_systemd_env(Command::new("faketime"));
    // `-f` with an absolute time freezes the clock there; without it the
    // clock starts there and runs, and a slow start reads 86401.
    c.args(["-f", "1970-01-02 00:00:00", BIN]).args([
        "-k",
        key.to_str().unwrap(),
        "-P",
        target.to_str().unwrap(),
    ]);
    let o = c
        .output()
        .expect("faketime is needed for this test (Debian package faketime)");
    refused(&o, 1, "time 86400 is outside", &target);
}
