//! The push to a running HAProxy, against a fake admin socket of the
//! test's own: the push as a whole has one deadline, a stop signal ends it
//! at once (the run reports it, writes its metrics and exits 1), and a
//! socket path as long as a unix socket's can be works. The real HAProxy
//! is in tests/tickets/test_haproxy.py.
//!
//! Each run is in a private mount and network namespace with its own /run
//! (the HAProxy key file goes there), so nothing of the host's is touched.

mod common;

use common::*;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// The HAProxy key file, in the namespace's own /run.
const KEY_FILE: &str = "/run/tickets/haproxy.keys";
/// The longest path a unix socket can have (`sun_path` holds 108 bytes,
/// the last a NUL).
const SUN_PATH_MAX: usize = 107;

/// A fake HAProxy admin socket: a ring of three keys (none of the test
/// vector's, so a push appends all three), answering `show tls-keys` and
/// `set ssl tls-key` as HAProxy does, one command per connection. The
/// answer to the i-th connection comes after `delays[i]` (the last delay
/// repeats). Each command's verb is sent on the channel when it arrives.
fn fake_haproxy(path: &Path, delays: Vec<Duration>) -> Receiver<String> {
    let listener = UnixListener::bind(path).expect("bind the fake HAProxy");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut ring: Vec<String> = (b'A'..=b'C')
            .map(|c| (c as char).to_string().repeat(108))
            .collect();
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { return };
            let mut command = String::new();
            // tofurkey sends one line, then shuts its side down.
            let _ = conn.read_to_string(&mut command);
            let words: Vec<&str> = command.split_whitespace().collect();
            let _ = tx.send(words.first().copied().unwrap_or_default().to_string());
            thread::sleep(*delays.get(i).or(delays.last()).unwrap());
            let answer = match words.as_slice() {
                ["show", "tls-keys", file] => {
                    let mut a = format!("# id secret\n# 0 ({file})\n");
                    for (n, key) in ring.iter().enumerate() {
                        a.push_str(&format!("0.{n} {key}\n"));
                    }
                    a + "\n"
                }
                ["set", "ssl", "tls-key", _, key] => {
                    ring.remove(0);
                    ring.push(key.to_string());
                    "TLS ticket key updated!\n\n".to_string()
                }
                _ => "Unknown command.\n".to_string(),
            };
            // A run that gave up has closed its end: nothing to tell.
            let _ = conn.write_all(answer.as_bytes());
        }
    });
    rx
}

/// A run in its own namespaces, pushing to `socket`, with its metrics in
/// `d`; stdout and stderr piped.
fn start_run(d: &Dir, socket: &Path) -> Child {
    let script = format!(
        "mkdir -m 0700 /run/tickets && exec {BIN} -T 1000000 -k {} -P {} --haproxy-tickets \
         {KEY_FILE} --haproxy-socket {} --metrics {}",
        d.spec_key().display(),
        d.target().display(),
        socket.display(),
        d.path("t.prom").display()
    );
    with_private_run(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a run")
}

/// The run's other outputs were set all the same (the TFO key), and its
/// metrics say it failed.
fn other_outputs_set_and_failure_published(d: &Dir) {
    assert_eq!(
        bytes(&d.path("target")),
        format!("{SPEC_PAIR}\0").as_bytes()
    );
    let text = fs::read_to_string(d.path("t.prom")).unwrap();
    assert_eq!(sample(&text, "tofurkey_last_run_success"), Some("0"));
}

/// Waits for the fake to receive its `n`-th command (from 1).
fn wait_for_command(commands: &Receiver<String>, n: usize) {
    for _ in 0..n {
        commands
            .recv_timeout(Duration::from_secs(10))
            .expect("the run never sent its command");
    }
}

/// A HAProxy that answers each command of the push just within the read's
/// 5 s: the push (a show, three sets and a show) would take 22.5 s, and
/// the whole run is ended by the push's one 10 s deadline instead.
#[test]
fn the_push_as_a_whole_has_one_deadline() {
    let d = Dir::new("push-deadline");
    let socket = d.path("admin.sock");
    let slow = Duration::from_millis(4500);
    // The read before the key is answered at once; the push's commands late.
    let commands = fake_haproxy(&socket, vec![Duration::ZERO, slow]);
    let start = Instant::now();
    let out = wait_at_most(start_run(&d, &socket), Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // 10 s and the run's own start; answered one by one it would be 22.5 s.
    assert!(
        start.elapsed() < Duration::from_secs(16),
        "{:?}",
        start.elapsed()
    );
    assert!(
        err.contains("the push was not done within its 10 s deadline"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // The read, then the push's show and two sets: the second cut short.
    let verbs: Vec<String> = commands.try_iter().collect();
    assert_eq!(verbs, ["show", "show", "set", "set"]);
    other_outputs_set_and_failure_published(&d);
}

/// SIGTERM while HAProxy stalls (systemd stopping the unit, or its
/// TimeoutStartSec=): the push ends at once, the run says it was stopped
/// and what it set, writes its metrics and exits 1, instead of waiting out
/// the deadline and then dying of the signal with nothing said.
#[test]
fn a_stop_signal_ends_the_push_and_the_run_reports_it() {
    let d = Dir::new("push-stop");
    let socket = d.path("admin.sock");
    // The read at once; the push's first command never in the run's time.
    let commands = fake_haproxy(&socket, vec![Duration::ZERO, Duration::from_secs(60)]);
    let child = start_run(&d, &socket);
    wait_for_command(&commands, 2);
    // The push's command was sent: give the run a moment to wait on it.
    thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    // SAFETY: kill on our own child (tofurkey, exec'd by the shell).
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = wait_at_most(child, Duration::from_secs(20));
    let err = stderr(&out);
    // Without the feature: the push's deadline, then death by SIGTERM.
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "{:?}",
        signalled.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("the push was stopped by SIGTERM"), "{err}");
    assert!(
        err.contains("; set all the same: TFO keys, HAProxy file replaced"),
        "{err}"
    );
    other_outputs_set_and_failure_published(&d);
}

/// A socket path of 107 characters, the most a unix socket's can hold,
/// in a directory whose own path is short (as /run/haproxy is): the push
/// works.
#[test]
fn a_socket_path_of_the_longest_length_works() {
    let d = Dir::new("push-long");
    let short = tempfile::Builder::new()
        .prefix("t")
        .tempdir_in("/tmp")
        .expect("a temp dir in /tmp");
    let dir = short.path().to_str().unwrap().to_string();
    let socket = PathBuf::from(format!(
        "{dir}/{}",
        "s".repeat(SUN_PATH_MAX - dir.len() - 1)
    ));
    assert_eq!(socket.as_os_str().len(), SUN_PATH_MAX);
    let commands = fake_haproxy(&socket, vec![Duration::ZERO]);
    let out = wait_at_most(start_run(&d, &socket), Duration::from_secs(10));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("HAProxy file replaced, 3 keys pushed to the running HAProxy"),
        "{err}"
    );
    let verbs: Vec<String> = commands.try_iter().collect();
    assert_eq!(verbs, ["show", "show", "set", "set", "set", "show"]);
}

/// The socket's directory is reached from `/` without following a link,
/// every directory on the way root's and closed to others (or sticky):
/// another user who could swap one could put a listener of their own at
/// the path. Refused before the key is read: no command sent, nothing set.
#[test]
fn a_socket_path_through_a_link_or_an_open_directory_is_refused() {
    let d = Dir::new("push-path");
    let real = d.path("real");
    fs::create_dir(&real).unwrap();
    let commands = fake_haproxy(&real.join("admin.sock"), vec![Duration::ZERO]);
    let link = d.path("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    // An open (not sticky) directory two levels above the socket.
    let open = d.path("open");
    fs::create_dir_all(open.join("haproxy")).unwrap();
    set_mode(&open, 0o777);
    let _listener = fake_haproxy(&open.join("haproxy/admin.sock"), vec![Duration::ZERO]);
    for (socket, want) in [
        (
            link.join("admin.sock"),
            format!(
                "{}: {} is a symbolic link (to {}), not a directory: give the path without \
                 links: the real directory",
                link.join("admin.sock").display(),
                link.display(),
                real.display()
            ),
        ),
        (
            open.join("haproxy/admin.sock"),
            format!(
                "{}: directory {} (owner uid 0, mode 0777) can be changed by another user",
                open.join("haproxy/admin.sock").display(),
                open.display()
            ),
        ),
    ] {
        let out = wait_at_most(start_run(&d, &socket), Duration::from_secs(10));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&want), "{err}");
        assert_eq!(bytes(&d.path("target")), OLD_PAIR, "the TFO key was set");
    }
    assert_eq!(
        commands.try_iter().count(),
        0,
        "a command reached the socket"
    );
}
