//! The systemd edges without a running systemd: STATUS= over a notify
//! socket the test owns (path and abstract forms), and the journal fallback.
//! The real journal and `systemctl status` are checked in tests/systemd/.

mod common;

use common::*;
use std::fs::File;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use std::time::Duration;

fn status_via(sock: &UnixDatagram, notify_socket: &str) -> String {
    let d = Dir::new("notify");
    let (key, target) = (d.spec_key(), d.target());
    let o = tofurkey()
        .env("NOTIFY_SOCKET", notify_socket)
        .args(["-k", key.to_str().unwrap(), "-P", target.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notify datagram");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn status_on_a_path_socket() {
    let d = Dir::new("notify-path");
    let path = d.path("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    let msg = status_via(&sock, path.to_str().unwrap());
    assert!(
        msg.starts_with("STATUS=Keys set: counters 11/12, next rotation 1970-01-13T00:00:00Z"),
        "{msg}"
    );
    assert_no_secrets(&msg, &secrets(&[SPEC_PAIR]));
}

#[test]
fn status_on_an_abstract_socket() {
    let name = format!("tofurkey-test-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let sock = UnixDatagram::bind_addr(&addr).unwrap();
    let msg = status_via(&sock, &format!("@{name}"));
    assert!(msg.starts_with("STATUS=Keys set: counters 11/12"), "{msg}");
}

#[test]
fn failure_status_names_the_cause() {
    let d = Dir::new("notify-fail");
    let (path, target) = (d.path("notify.sock"), d.target());
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let o = tofurkey()
        .env("NOTIFY_SOCKET", &path)
        .args(["-k", d.path("missing").to_str().unwrap()])
        .args(["-P", target.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(
        msg.starts_with("STATUS=Failed: cannot read main key file"),
        "{msg}"
    );
}

/// stderr is "the journal" (JOURNAL_STREAM names it) but no journal socket
/// exists (a private, empty /run): every line still reaches stderr.
#[test]
fn journal_failure_falls_back_to_stderr() {
    assert!(
        is_root(),
        "this test needs root (a private /run); run the suite as root"
    );
    let d = Dir::new("journal-fallback");
    let (key, target) = (d.spec_key(), d.target());
    let err_path = d.path("stderr");
    let err_file = File::create(&err_path).unwrap();
    let meta = err_file.metadata().unwrap();
    let script = format!(
        "exec {} -v -k {} -T 1000000 -P {}",
        BIN,
        key.display(),
        target.display()
    );
    let status = with_private_run(&script)
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(err_file)
        .status()
        .unwrap();
    assert!(status.success());
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert!(err.contains("info: main key from key file"), "{err}");
    assert!(err.contains("info: keys set: time 1000000"), "{err}");
}

/// Native journal entries keep a path with control characters on one line:
/// a datagram socket of the test's, bound over /run/systemd/journal/socket
/// in a private /run, receives the entries; every field is `NAME=value` on
/// a line of its own, with the newline escaped.
#[test]
fn journal_entries_escape_control_characters() {
    assert!(
        is_root(),
        "this test needs root (a private /run); run the suite as root"
    );
    let d = Dir::new("journal-escape");
    let journal = d.path("journal.sock");
    let sock = UnixDatagram::bind(&journal).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let err_path = d.path("stderr");
    let err_file = File::create(&err_path).unwrap();
    let meta = err_file.metadata().unwrap();
    let forged = d.path("x\ninfo: keys set");
    let script = format!(
        "mkdir -p /run/systemd/journal && touch /run/systemd/journal/socket && \
         mount --bind {} /run/systemd/journal/socket && exec {} -T 1000000 -P {} -k '{}'",
        journal.display(),
        BIN,
        d.target().display(),
        forged.display()
    );
    let status = with_private_run(&script)
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(err_file)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&err_path).unwrap(),
        "",
        "all went to the journal"
    );
    let mut buf = [0u8; 65536];
    let n = sock.recv(&mut buf).expect("a journal entry");
    let entry = String::from_utf8_lossy(&buf[..n]);
    let escaped = d.path("x\\ninfo: keys set");
    for line in entry.lines() {
        assert!(
            line.split_once('=').is_some_and(|(k, _)| !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')),
            "not a NAME=value field: {line:?} in {entry:?}"
        );
    }
    let message = entry
        .lines()
        .find_map(|l| l.strip_prefix("MESSAGE="))
        .unwrap();
    assert_eq!(
        message,
        format!(
            "cannot read main key file {}: No such file or directory: check the path and its \
             permissions",
            escaped.display()
        )
    );
}
