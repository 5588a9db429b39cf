//! Process hygiene, observed from outside while a run waits for a key piped
//! in on its standard input: before the first byte it holds no secret and
//! must stay stoppable; with half a key read it is inside its secret
//! section, and /proc/PID shows the state it keeps there.

mod common;

use common::*;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

const SIGNALS_HELD: [i32; 3] = [libc::SIGHUP, libc::SIGINT, libc::SIGTERM];

fn status_field(pid: u32, name: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(name)).unwrap();
    line[name.len()..].trim().to_string()
}

/// True when SIGHUP, SIGINT and SIGTERM are all blocked in `pid`.
fn signals_held(pid: u32) -> bool {
    let blocked = u64::from_str_radix(&status_field(pid, "SigBlk:"), 16).unwrap();
    SIGNALS_HELD
        .iter()
        .all(|&sig| blocked & (1 << (sig - 1)) != 0)
}

/// Polls `ready` on the child for up to 10 s.
fn wait_until(child: &mut Child, what: &str, ready: impl Fn(u32) -> bool) {
    let start = Instant::now();
    while !ready(child.id()) {
        if start.elapsed() > Duration::from_secs(10) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tofurkey never reached: {what}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// True while `pid` sleeps in poll(2): waiting for the key.
fn polling(pid: u32) -> bool {
    let wchan = fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    wchan.contains("poll")
}

/// Starts `cmd -k -` with a pipe on its stdin; returns once it waits for
/// the key, with the pipe's writing end.
fn start_waiting(cmd: &mut Command) -> (Child, ChildStdin) {
    let mut child = cmd
        .args(["-k", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    wait_until(&mut child, "the wait for the key", polling);
    (child, stdin)
}

fn core_limit(pid: u32) -> Vec<String> {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    core.split_whitespace()
        .skip(4)
        .take(2)
        .map(String::from)
        .collect()
}

#[test]
fn secrets_are_held_by_a_hardened_process() {
    assert!(
        is_root(),
        "this test needs root (mlockall, and switching to nobody)"
    );
    let d = Dir::new("hygiene");
    let target = d.target();
    let key = hex::decode(SPEC_MAIN).unwrap();

    // As root: memory locked and core dumps off from the start; while no
    // byte of the key is read, signals are not held.
    let metrics = d.path("t.prom");
    let mut cmd = tofurkey();
    cmd.args(["-P", target.to_str().unwrap()])
        .args(["--metrics", metrics.to_str().unwrap()]);
    let (mut child, mut stdin) = start_waiting(&mut cmd);
    let pid = child.id();
    assert_eq!(core_limit(pid), ["0", "0"]);
    let locked_kb: u64 = status_field(pid, "VmLck:")
        .trim_end_matches(" kB")
        .parse()
        .unwrap();
    assert!(locked_kb > 0, "mlockall: no locked memory");
    assert!(!signals_held(pid), "signals held before any key byte");

    // Half the key in memory: signals are held now.
    stdin.write_all(&key[..16]).unwrap();
    wait_until(
        &mut child,
        "signals held with half a key read",
        signals_held,
    );
    // A SIGTERM now is held until the secrets are wiped: the keys are
    // still written, then the run reports it (not killed by it with
    // nothing said): its entry, its metrics, exit 1.
    // SAFETY: kill on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    stdin.write_all(&key[16..]).unwrap();
    drop(stdin);
    let out = bounded_wait(child);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: stopped by SIGTERM, which came while signals were held")
            && err.contains("; set all the same: TFO keys"),
        "{err}"
    );
    assert_eq!(
        bytes(&target),
        format!("{SPEC_PAIR}\0").as_bytes(),
        "the run finished its write first"
    );
    let text = fs::read_to_string(&metrics).unwrap();
    assert!(text.contains("\ntofurkey_last_run_success 0\n"), "{text}");

    // As nobody: not dumpable, so the entries of /proc/PID belong to root.
    let mut cmd = d.tofurkey_as_nobody();
    cmd.args(["-n"]);
    let (child, mut stdin) = start_waiting(&mut cmd);
    let owner = fs::metadata(format!("/proc/{}/fd", child.id()))
        .unwrap()
        .uid();
    stdin.write_all(&key).unwrap();
    drop(stdin);
    let out = bounded_wait(child);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        owner, 0,
        "a dumpable process's /proc/PID/fd belongs to its user"
    );
}

/// A run waiting for its key holds no secret: SIGTERM ends it at once, and
/// the target is untouched.
#[test]
fn a_run_waiting_for_its_key_stops_at_once() {
    let d = Dir::new("hygiene-stop");
    let target = d.target();
    let mut cmd = tofurkey();
    cmd.args(["-P", target.to_str().unwrap()]);
    let (child, stdin) = start_waiting(&mut cmd);
    let start = Instant::now();
    // SAFETY: kill on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = bounded_wait(child);
    assert_eq!(out.status.signal(), Some(libc::SIGTERM));
    // Without the feature the run would wait out the key's 5 s deadline;
    // 4 s leaves a loaded machine room to start and reap a process.
    assert!(start.elapsed() < Duration::from_secs(4));
    drop(stdin);
    assert_eq!(bytes(&target), OLD_PAIR);
}

/// Holds `flock(LOCK_EX)` on `path` until dropped.
fn hold_lock(path: &Path) -> File {
    let f = File::open(path).unwrap();
    // SAFETY: flock on a valid fd this test owns.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    f
}

/// No lock another user can take stalls a run: with the autokey's
/// directory and the autokey itself locked (as any user who can open them
/// could), a run that makes the key and one that reuses it both finish.
#[test]
fn locks_held_by_others_stall_nothing() {
    let d = Dir::new("hygiene-locks");
    let (auto, target) = (d.path("auto.key"), d.target());
    let _dir_lock = hold_lock(&d.0);
    let args = ["-a", auto.to_str().unwrap(), "-P", target.to_str().unwrap()];
    let o = bounded(tofurkey().args(args));
    assert!(o.status.success(), "{}", stderr(&o));
    let _key_lock = hold_lock(&auto);
    let o = bounded(tofurkey().args(args));
    assert!(o.status.success(), "{}", stderr(&o));
}
