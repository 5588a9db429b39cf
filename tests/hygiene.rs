//! Process hygiene, observed from outside while a run holds a key: the test
//! holds the autokey directory's lock, so tofurkey waits inside its secret
//! section, and /proc/PID shows its state.

mod common;

use common::*;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `cmd` while holding the lock on `dir`; returns the child once it
/// is waiting for that lock (its wait channel says flock).
#[allow(clippy::zombie_processes)] // the caller waits for the child it gets
fn start_blocked(dir: &std::path::Path, cmd: &mut Command) -> (Child, File) {
    let lock = File::open(dir).unwrap();
    // SAFETY: flock on a valid fd this test owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let wchan = fs::read_to_string(format!("/proc/{}/wchan", child.id())).unwrap_or_default();
        if wchan.contains("flock") || wchan.contains("locks") {
            return (child, lock);
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tofurkey never reached the lock ({wchan})");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn status_field(pid: u32, name: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(name)).unwrap();
    line[name.len()..].trim().to_string()
}

#[test]
fn secrets_are_held_by_a_hardened_process() {
    assert!(
        is_root(),
        "this test needs root (mlockall, and switching to nobody)"
    );
    let d = Dir::new("hygiene");
    fs::set_permissions(&d.0, fs::Permissions::from_mode(0o777)).unwrap();

    // As root: memory locked, core dumps off, signals blocked.
    let auto = d.path("root.key");
    let mut cmd = tofurkey();
    cmd.args(["-n", "-a", auto.to_str().unwrap(), "-T", "1000000"]);
    let (child, lock) = start_blocked(&d.0, &mut cmd);
    let pid = child.id();
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
        ["0", "0"],
        "{core}"
    );
    let blocked = u64::from_str_radix(&status_field(pid, "SigBlk:"), 16).unwrap();
    // SIGINT (2), SIGTERM (15) and SIGHUP (1) held while the key is in memory.
    for sig in [1, 2, 15] {
        assert_ne!(
            blocked & (1 << (sig - 1)),
            0,
            "signal {sig} not blocked: {blocked:x}"
        );
    }
    let locked_kb: u64 = status_field(pid, "VmLck:")
        .trim_end_matches(" kB")
        .parse()
        .unwrap();
    assert!(locked_kb > 0, "mlockall: no locked memory");
    // A SIGTERM now is held until the secrets are wiped, then ends the run.
    // SAFETY: kill on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        fs::metadata(&auto).unwrap().len(),
        32,
        "the run finished its autokey first"
    );
    assert!(!out.status.success());

    // As nobody: not dumpable, so the entries of /proc/PID belong to root.
    let auto = d.path("nobody.key");
    let mut cmd = tofurkey_as_nobody();
    cmd.args(["-n", "-a", auto.to_str().unwrap(), "-T", "1000000"]);
    let (child, lock) = start_blocked(&d.0, &mut cmd);
    let owner = fs::metadata(format!("/proc/{}/fd", child.id()))
        .unwrap()
        .uid();
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        owner, 0,
        "a dumpable process's /proc/PID/fd belongs to its user"
    );
}
