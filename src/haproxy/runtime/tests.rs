//! runtime.rs's tests, against a fake admin socket in a directory of the
//! test's own (root's or the test user's, closed to others, as the socket's
//! trust rules require). The real HAProxy is in tests/tickets/test_haproxy.py.

use super::*;
use crate::counters::{Interval, UnixTime};
use crate::hygiene::SignalGuard;
use crate::keys::MainKey;
use crate::tickets::Schedule;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::thread::{self, JoinHandle};

const FILE: &str = "/run/tofurkey/haproxy.keys";

/// A ticket set of a main key of the test's own.
fn set(counter: u64) -> TicketSet {
    let at = UnixTime::new(counter * 3600).unwrap();
    TicketSet::derive(
        &MainKey::new([9; 32]),
        Schedule::at(at, Interval::new(3600).unwrap()),
    )
}

fn base64(set: &TicketSet) -> Vec<String> {
    let keys = set.keys.each_ref().map(|k| k.haproxy_base64());
    keys.iter()
        .map(|k| String::from_utf8(k.to_vec()).unwrap())
        .collect()
}

/// Serves `connections` commands, one per connection as HAProxy does,
/// each answered by `answer` (given the command's words). Returns the
/// commands' first words.
fn serve<F>(dir: &Path, connections: usize, mut answer: F) -> JoinHandle<Vec<String>>
where
    F: FnMut(&[&str]) -> String + Send + 'static,
{
    let listener = UnixListener::bind(dir.join("admin.sock")).unwrap();
    thread::spawn(move || {
        let mut verbs = Vec::new();
        for conn in listener.incoming().take(connections) {
            let mut conn = conn.unwrap();
            let mut command = String::new();
            conn.read_to_string(&mut command).unwrap();
            let words: Vec<&str> = command.split_whitespace().collect();
            verbs.push(words[0].to_string());
            conn.write_all(answer(&words).as_bytes()).unwrap();
        }
        verbs
    })
}

/// HAProxy's answer to `show tls-keys` for `ring`.
fn show(file: &str, ring: &[String]) -> String {
    let mut a = format!("# id secret\n# 0 ({file})\n");
    for (n, key) in ring.iter().enumerate() {
        a.push_str(&format!("0.{n} {key}\n"));
    }
    a + "\n"
}

/// A HAProxy starting from `ring`; `set ssl tls-key` appends to the ring
/// only if `updates`.
fn fake(
    dir: &Path,
    mut ring: Vec<String>,
    updates: bool,
    connections: usize,
) -> JoinHandle<Vec<String>> {
    serve(dir, connections, move |words| match words {
        ["show", "tls-keys", file] => show(file, &ring),
        ["set", "ssl", "tls-key", _, key] => {
            if updates {
                ring.remove(0);
                ring.push(key.to_string());
            }
            "TLS ticket key updated!\n\n".to_string()
        }
        _ => "Unknown command.\n".to_string(),
    })
}

fn open(dir: &Path) -> Result<Runtime, SocketError> {
    Runtime::open(&dir.join("admin.sock"), Path::new(FILE))
}

fn push(runtime: &Runtime, set: &TicketSet) -> Result<Push, SocketError> {
    let guard = SignalGuard::block().unwrap();
    runtime.push(set, guard.stop_signals())
}

/// `--check` sees the ring as read, in the key file's form.
#[test]
fn the_live_ring_is_the_files_form() {
    let t = tempfile::tempdir().unwrap();
    let ring = base64(&set(500_020));
    let server = fake(t.path(), ring.clone(), true, 1);
    let runtime = open(t.path()).unwrap();
    assert_eq!(
        runtime.live(),
        Some(format!("{}\n", ring.join("\n")).as_bytes())
    );
    assert_eq!(
        runtime.describe(),
        format!(
            "running HAProxy ({}, {FILE})",
            t.path().join("admin.sock").display()
        )
    );
    assert_eq!(server.join().unwrap(), ["show"]);
}

/// A ring of another main key is replaced whole, and said to be foreign;
/// a ring one interval behind gets one key, and is not.
#[test]
fn a_push_appends_what_is_missing_and_says_whose_ring_it_was() {
    let t = tempfile::tempdir().unwrap();
    let other = ["A", "B", "C"].map(|c| c.repeat(BASE64_LEN)).to_vec();
    let server = fake(t.path(), other, true, 6);
    let runtime = open(t.path()).unwrap();
    let pushed = push(&runtime, &set(500_020)).unwrap();
    assert_eq!(
        pushed,
        Push::Keys {
            count: 3,
            foreign: true
        }
    );
    assert_eq!(
        server.join().unwrap(),
        ["show", "show", "set", "set", "set", "show"]
    );

    let t = tempfile::tempdir().unwrap();
    let server = fake(t.path(), base64(&set(500_019)), true, 4);
    let runtime = open(t.path()).unwrap();
    let pushed = push(&runtime, &set(500_020)).unwrap();
    assert_eq!(
        pushed,
        Push::Keys {
            count: 1,
            foreign: false
        }
    );
    server.join().unwrap();
}

/// A HAProxy that says "updated" but holds another ring after the push is
/// not in sync: the push fails rather than report keys it does not hold.
#[test]
fn a_ring_that_does_not_take_the_keys_is_not_in_sync() {
    let t = tempfile::tempdir().unwrap();
    let server = fake(t.path(), base64(&set(500_019)), false, 4);
    let runtime = open(t.path()).unwrap();
    let failed = push(&runtime, &set(500_020)).unwrap_err();
    assert!(
        matches!(failed, SocketError::NotInSync { .. }),
        "{failed:?}"
    );
    server.join().unwrap();
}

/// A socket with no listener (HAProxy stopped, its socket left behind) is
/// a HAProxy not running: nothing to push, no failure. A connection that
/// fails otherwise (here reset before any answer) leaves the ring unread:
/// the push tries again, and fails if it fails again.
#[test]
fn a_stale_socket_is_not_running_and_a_reset_is_unread() {
    let t = tempfile::tempdir().unwrap();
    drop(UnixListener::bind(t.path().join("admin.sock")).unwrap());
    let runtime = open(t.path()).unwrap();
    assert_eq!(runtime.live(), None);
    assert_eq!(push(&runtime, &set(500_020)).unwrap(), Push::NotRunning);

    let t = tempfile::tempdir().unwrap();
    let listener = UnixListener::bind(t.path().join("admin.sock")).unwrap();
    // Closed with the command unread: the reader gets ECONNRESET.
    let server = thread::spawn(move || {
        for conn in listener.incoming().take(2) {
            let conn = conn.unwrap();
            thread::sleep(std::time::Duration::from_millis(100));
            drop(conn);
        }
    });
    let runtime = open(t.path()).unwrap();
    assert_eq!(runtime.live(), None);
    let failed = push(&runtime, &set(500_020)).unwrap_err();
    assert!(matches!(failed, SocketError::Io { .. }), "{failed:?}");
    server.join().unwrap();
}

/// An answer of the most that is read (blank lines fill it out) is read;
/// one byte more is not HAProxy's: the ring is unread, and the push fails.
#[test]
fn an_answer_is_read_up_to_its_bound() {
    use super::super::socket::ANSWER_MAX;
    for (len, read) in [(ANSWER_MAX, true), (ANSWER_MAX + 1, false)] {
        let t = tempfile::tempdir().unwrap();
        let ring = base64(&set(500_020));
        // Read once by open(), and once more by the push when unread.
        let server = serve(t.path(), if read { 1 } else { 2 }, move |_| {
            let answer = show(FILE, &ring);
            answer.clone() + &"\n".repeat(len - answer.len())
        });
        let runtime = open(t.path()).unwrap();
        assert_eq!(runtime.live().is_some(), read, "{len}");
        if !read {
            let failed = push(&runtime, &set(500_020)).unwrap_err();
            assert!(matches!(failed, SocketError::TooLong { .. }), "{failed:?}");
        }
        assert_eq!(server.join().unwrap().len(), if read { 1 } else { 2 });
    }
}

/// A socket in a directory others can write is refused unless the
/// directory is sticky (as /tmp): there, nobody can replace another's
/// socket.
#[test]
fn an_open_directory_is_refused_unless_sticky() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let server = fake(t.path(), base64(&set(500_020)), true, 1);
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let failed = open(t.path()).err().expect("an open directory refused");
    assert!(
        matches!(failed, SocketError::OpenDirectory { .. }),
        "{failed:?}"
    );
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert!(open(t.path()).unwrap().live().is_some());
    server.join().unwrap();
}

/// No socket at all is a HAProxy not running; a name the socket cannot
/// have (over 255 bytes) is an error to report, not "not running".
#[test]
fn no_socket_is_not_running_and_a_bad_name_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    let runtime = open(t.path()).unwrap();
    assert_eq!(push(&runtime, &set(500_020)).unwrap(), Push::NotRunning);
    let long = t.path().join("s".repeat(256));
    let runtime = Runtime::open(&long, Path::new(FILE)).unwrap();
    let failed = push(&runtime, &set(500_020)).unwrap_err();
    assert!(matches!(failed, SocketError::Io { .. }), "{failed:?}");
}

/// A listener whose queue is full (a stalled HAProxy, or another user's
/// process holding it) fails the connect at once: it never holds the run.
#[test]
fn a_full_listen_queue_does_not_hold_the_run() {
    use nix::sys::socket::{AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
    use nix::sys::socket::{bind, listen, socket};
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("admin.sock");
    let listener = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    bind(listener.as_raw_fd(), &UnixAddr::new(&path).unwrap()).unwrap();
    listen(&listener, Backlog::new(0).unwrap()).unwrap();
    // One connection waiting to be accepted fills a queue of 0.
    let _waiting = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let dir = t.path().to_path_buf();
    thread::spawn(move || {
        let _ = tx.send(open(&dir).map(|r| r.live().is_some()));
    });
    let opened = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("the connect returns at once");
    assert!(matches!(opened, Ok(false)), "{opened:?}");
}
