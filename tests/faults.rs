//! Faults: a full filesystem and SIGKILL at any moment while the autokey is
//! made, targets that refuse the write or change under it, put-backs that
//! fail, links planted at temporary names, failed runs against a live
//! kernel key, and a scan of everything a run emits for key material.
//!
//! The host is never touched: tiny filesystems live in a private mount
//! namespace, the real procfs key in a network namespace, a sysctl that
//! truncates in a UTS namespace, all made by the test and gone with it.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use tofurkey::counters::{Counters, Interval, UnixTime};
use tofurkey::keys::{MainKey, pair_text};

/// The SPEC's time, for runs whose keys are compared with its vector.
const T: &str = "1000000";
const NOW: u64 = 1_000_000;
/// A time with valid times half an interval before it: the leak scan looks
/// for the previous pair too.
const LATER: u64 = 1_800_000_000;
/// Half the default interval.
const HALF: u64 = 43_200;
const PROCFS_KEY: &str = "/proc/sys/net/ipv4/tcp_fastopen_key";

fn need_root(what: &str) {
    assert!(is_root(), "{what} needs root: run the suite as root");
}

/// Asserts a failed run: exit 1 and exactly one line, starting `want`.
fn one_line(o: &Output, want: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with(want), "want '{want}…', got: {err}");
}

/// A shell holding new namespaces open (`unshare FLAGS`) after a set-up
/// script ran in them; commands run inside through `nsenter`. They go when
/// this is dropped, or when the test process dies and the shell's stdin
/// closes.
struct Ns {
    shell: Child,
    flags: &'static [&'static str],
}

impl Ns {
    /// `flags` are those `unshare` and `nsenter` share (`--net`, `--uts`,
    /// `--mount`; unshare makes a new mount namespace's propagation private).
    fn new(flags: &'static [&'static str], setup: &str) -> Ns {
        need_root("making namespaces");
        let mut shell = Command::new("unshare")
            .args(flags)
            .args(["sh", "-c", &format!("{setup} && echo ready && read -r _")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare (util-linux) is needed");
        let mut line = String::new();
        let _ = BufReader::new(shell.stdout.take().unwrap()).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = shell.kill();
            let o = shell.wait_with_output().unwrap();
            panic!("namespace set-up '{setup}' failed: {}", stderr(&o));
        }
        Ns { shell, flags }
    }

    /// `program` inside the namespaces, in the clean test environment.
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--target={}", self.shell.id()))
            .args(self.flags)
            .arg("--")
            .arg(program);
        without_systemd_env(c)
    }

    /// tofurkey inside the namespaces, as root or, with the test's `Dir`
    /// to run it from, as nobody.
    fn tofurkey(&self, as_nobody: Option<&Dir>) -> Command {
        match as_nobody {
            Some(d) => {
                let mut c = self.command("setpriv");
                c.args(NOBODY).arg(d.nobody_bin());
                c
            }
            None => self.command(BIN),
        }
    }

    /// A path as the namespace's mounts show it.
    fn path(&self, p: &Path) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{}", self.shell.id(), p.display()))
    }

    /// A sysctl as the namespace's kernel shows it.
    fn read(&self, sysctl: &str) -> String {
        let o = bounded(self.command("cat").arg(sysctl));
        assert!(o.status.success(), "cat {sysctl}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        drop(self.shell.stdin.take());
        let _ = self.shell.kill();
        let _ = self.shell.wait();
    }
}

/// Names, sizes and modes in `dir`, sorted.
fn listing(dir: &Path) -> Vec<(String, u64, u32)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, m.len(), m.mode() & 0o7777)
        })
        .collect();
    v.sort();
    v
}

/// Writes to `path` until the filesystem is full.
fn fill_up(path: &Path) {
    let mut f = File::create(path).unwrap();
    let block = [0u8; 4096];
    loop {
        if let Err(e) = f.write_all(&block) {
            assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
            return;
        }
    }
}

/// A full filesystem while a new autokey is stored: no room for its bytes
/// (a 4 KiB tmpfs, already full) or for its inode (a tmpfs of one inode, its
/// root). One line names the autokey and ENOSPC, the target is untouched,
/// and the directory holds what it held: no autokey, no temporary file.
#[test]
fn full_filesystem_leaves_no_partial_autokey() {
    for (options, fill, step) in [
        ("size=4k", true, "write"),
        ("nr_inodes=1", false, "create unnamed file"),
    ] {
        let d = Dir::new("enospc");
        let (target, mnt) = (d.target(), d.path("mnt"));
        fs::create_dir(&mnt).unwrap();
        let setup = format!("mount -t tmpfs -o {options} tmpfs {}", mnt.display());
        let ns = Ns::new(&["--mount"], &setup);
        if fill {
            fill_up(&ns.path(&mnt.join("filler")));
        }
        let before = listing(&ns.path(&mnt));
        let auto = mnt.join("auto.key");
        let o = bounded(ns.tofurkey(None).args([
            "-a",
            auto.to_str().unwrap(),
            "-T",
            T,
            "-P",
            target.to_str().unwrap(),
        ]));
        one_line(
            &o,
            &format!(
                "error: cannot create autokey {} ({step}): No space left on device",
                auto.display()
            ),
        );
        assert_eq!(bytes(&target), OLD_PAIR, "{options}: target changed");
        assert_eq!(
            listing(&ns.path(&mnt)),
            before,
            "{options}: a failed store must leave no autokey and no temporary file"
        );
    }
}

/// Where a killed autokey-making run stopped, as the disk shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// The run ended before the kill.
    Finished,
    /// Killed before the key was linked in (the unnamed file, if any, went
    /// with the process).
    NoFile,
    /// Killed after the link.
    KeyInPlace,
}

/// An autokey directory for kill tests, and what each run is given.
struct KillBench {
    dir: Dir,
    auto: PathBuf,
    target: PathBuf,
}

impl KillBench {
    fn new(name: &str) -> KillBench {
        let dir = Dir::new(name);
        let auto = dir.path("auto.key");
        let target = dir.target();
        KillBench { dir, auto, target }
    }

    /// A run that must make the autokey: none is there. A dry run, and
    /// aimed at a file of ours should -n ever fail to hold.
    fn command(&self) -> Command {
        let _ = fs::remove_file(&self.auto);
        let mut c = tofurkey();
        c.args(["-n", "-a", self.auto.to_str().unwrap(), "-T", T])
            .args(["-P", self.target.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// After a run died at `what`: the autokey is absent or whole (32 bytes,
    /// 0600), never partial, and nothing else was left in the directory.
    /// Then the next run works and uses the key on disk.
    fn check(&self, killed: bool, what: &str) -> Outcome {
        let key = fs::read(&self.auto).ok();
        if let Some(key) = &key {
            let mode = fs::metadata(&self.auto).unwrap().mode() & 0o777;
            assert_eq!((key.len(), mode), (32, 0o600), "{what}: partial autokey");
        }
        let names: Vec<_> = listing(&self.dir.0).into_iter().map(|e| e.0).collect();
        let want: &[&str] = match key {
            Some(_) => &["auto.key", "target"],
            None => &["target"],
        };
        assert_eq!(names, want, "{what}: left behind");
        let outcome = match (killed, &key) {
            (false, Some(_)) => Outcome::Finished,
            (false, None) => panic!("{what}: a finished run left no autokey"),
            (true, Some(_)) => Outcome::KeyInPlace,
            (true, None) => Outcome::NoFile,
        };

        let auto = self.auto.to_str().unwrap();
        let o = run(&[
            "-V",
            "-n",
            "-a",
            auto,
            "-T",
            T,
            "-P",
            self.target.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{what}: next run: {}", stderr(&o));
        let now = fs::read(&self.auto).unwrap();
        if let Some(key) = key {
            assert_eq!(now, key, "{what}: a whole autokey was replaced");
        }
        assert_eq!(keys_line(&o), pair_for(&now, NOW), "{what}");
        outcome
    }
}

/// The procfs pair a main key gives at time `t` (default interval).
fn pair_for(key: &[u8], t: u64) -> String {
    let s = Counters::at(UnixTime::new(t).unwrap(), Interval::DEFAULT);
    let pair = pair_text(&MainKey::new(key.try_into().unwrap()), s.primary, s.backup);
    String::from_utf8(pair.text().to_vec()).unwrap()
}

/// A small xorshift generator: timing is not reproducible anyway, so any
/// seed will do.
fn next_random(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// SIGKILL at random moments of runs that make a new autokey. Delays are
/// drawn over the length of a run, measured here first, so kills land
/// before, during and after the key is stored.
#[test]
fn sigkill_at_random_moments_never_leaves_a_partial_autokey() {
    const KILLS: usize = 240;
    let bench = KillBench::new("kill-random");
    let mut lengths: Vec<Duration> = (0..15)
        .map(|_| {
            let mut child = bench.command().spawn().unwrap();
            let start = Instant::now();
            assert!(child.wait().unwrap().success());
            start.elapsed()
        })
        .collect();
    lengths.sort();
    let span = lengths[lengths.len() / 2] * 5 / 4;

    let mut seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut delays: BTreeMap<Outcome, Vec<u128>> = BTreeMap::new();
    for i in 0..KILLS {
        let delay = span.mul_f64(next_random(&mut seed));
        let mut child = bench.command().spawn().unwrap();
        let start = Instant::now();
        // Spin: a sleep this short would overshoot by more than a run.
        let mut at = start.elapsed();
        while at < delay {
            std::hint::spin_loop();
            at = start.elapsed();
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        let killed = status.signal() == Some(libc::SIGKILL);
        assert!(killed || status.success(), "kill {i}: {status}");
        let what = format!("kill {i} after {} µs", at.as_micros());
        let outcome = bench.check(killed, &what);
        delays.entry(outcome).or_default().push(at.as_micros());
    }

    eprintln!(
        "{KILLS} kills, drawn over 0..{} µs (a run takes {} µs):",
        span.as_micros(),
        lengths[lengths.len() / 2].as_micros()
    );
    for (outcome, d) in &mut delays {
        d.sort();
        let (n, lo, mid, hi) = (d.len(), d[0], d[d.len() / 2], d[d.len() - 1]);
        eprintln!("  {outcome:?}: {n} (killed after {lo}..{hi} µs, median {mid})");
    }
    let finished = delays.get(&Outcome::Finished).map_or(0, Vec::len);
    assert!(
        (KILLS - finished) * 4 >= KILLS,
        "only {} of {KILLS} kills hit a live run: {delays:?}",
        KILLS - finished
    );
}

/// Issues a ptrace request that takes no address.
fn ptrace(request: libc::c_uint, pid: libc::pid_t, data: usize) {
    // SAFETY: the address argument is unused by these requests; `data` is a
    // number (options or a signal), not a pointer.
    let r = unsafe { libc::ptrace(request, pid, std::ptr::null_mut::<libc::c_void>(), data) };
    assert_ne!(r, -1, "ptrace: {}", io::Error::last_os_error());
}

fn wait_status(pid: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    // SAFETY: waits for our own child into a local.
    while unsafe { libc::waitpid(pid, &mut status, libc::__WALL) } == -1 {
        let e = io::Error::last_os_error();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted, "waitpid: {e}");
    }
    status
}

/// Starts `cmd` traced by this thread, stopped just after exec.
#[allow(clippy::zombie_processes)] // reaped with waitpid: the tracer must
fn spawn_traced(cmd: &mut Command) -> libc::pid_t {
    // SAFETY: PTRACE_TRACEME is one system call, fine between fork and exec.
    unsafe {
        cmd.pre_exec(
            || match libc::ptrace(libc::PTRACE_TRACEME, 0, 0usize, 0usize) {
                -1 => Err(io::Error::last_os_error()),
                _ => Ok(()),
            },
        );
    }
    let pid = cmd.spawn().expect("spawn").id() as libc::pid_t;
    let status = wait_status(pid);
    assert!(libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGTRAP);
    // Syscall stops marked apart from signals; the tracee dies with us if a
    // failed assertion ends this thread.
    let options = libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL;
    ptrace(libc::PTRACE_SETOPTIONS, pid, options as usize);
    pid
}

/// Runs the tracee to its next system call entry or exit. False when it
/// ended instead (successfully: anything else fails the test).
fn next_syscall_stop(pid: libc::pid_t) -> bool {
    let mut signal = 0;
    loop {
        ptrace(libc::PTRACE_SYSCALL, pid, signal);
        let status = wait_status(pid);
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "traced run failed: status {status:#x}"
            );
            return false;
        }
        match libc::WSTOPSIG(status) {
            s if s == libc::SIGTRAP | 0x80 => return true,
            // A signal on its way to the tracee: deliver it.
            s => signal = s as usize,
        }
    }
}

/// SIGKILL at each system call of an autokey-making run in turn, at entry
/// and at exit: every point between two effects on disk, including the few
/// microseconds random kills rarely hit (after a file is created and before
/// its bytes are written, where a key written in place would be empty).
#[test]
fn sigkill_at_every_syscall_never_leaves_a_partial_autokey() {
    let bench = KillBench::new("kill-sweep");
    let mut seen: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut stops = 0;
    loop {
        let pid = spawn_traced(&mut bench.command());
        if !(0..=stops).all(|_| next_syscall_stop(pid)) {
            break; // the run ended before this stop: every stop was covered
        }
        stops += 1;
        // SAFETY: signals our own traced child, which is not reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        wait_status(pid);
        let outcome = bench.check(true, &format!("kill at syscall stop {stops}"));
        *seen.entry(outcome).or_default() += 1;
    }
    eprintln!("killed at each of {stops} syscall stops: {seen:?}");
    for phase in [Outcome::NoFile, Outcome::KeyInPlace] {
        assert!(seen.contains_key(&phase), "no kill {phase:?}: {seen:?}");
    }
    // The last run finished: the key in place, no temporary file.
    assert!(bench.auto.exists());
    assert_eq!(bytes(&bench.target), OLD_PAIR, "a dry run wrote");
}

/// A system call a traced run is stopped at the entry of: its number, its
/// first argument (the fd of a `pwrite64(2)`), and for `openat(2)` the path
/// and flags it passes, read from its memory.
struct Entry {
    nr: i64,
    arg0: u64,
    path: Option<PathBuf>,
    flags: u64,
}

#[cfg(target_arch = "x86_64")]
fn regs(pid: libc::pid_t) -> libc::user_regs_struct {
    let mut regs = std::mem::MaybeUninit::<libc::user_regs_struct>::uninit();
    // SAFETY: PTRACE_GETREGS fills the struct `data` points to.
    let r = unsafe { libc::ptrace(libc::PTRACE_GETREGS, pid, 0usize, regs.as_mut_ptr()) };
    assert_ne!(r, -1, "PTRACE_GETREGS: {}", io::Error::last_os_error());
    // SAFETY: initialized by the successful call above.
    unsafe { regs.assume_init() }
}

#[cfg(target_arch = "x86_64")]
fn set_regs(pid: libc::pid_t, regs: &libc::user_regs_struct) {
    // SAFETY: PTRACE_SETREGS reads the struct `data` points to.
    let r = unsafe { libc::ptrace(libc::PTRACE_SETREGS, pid, 0usize, regs as *const _) };
    assert_ne!(r, -1, "PTRACE_SETREGS: {}", io::Error::last_os_error());
}

#[cfg(target_arch = "x86_64")]
fn syscall_entry(pid: libc::pid_t) -> Option<Entry> {
    use std::os::unix::ffi::OsStringExt;
    use std::os::unix::fs::FileExt;
    let regs = regs(pid);
    // At a syscall entry stop the kernel has put -ENOSYS in rax.
    if regs.rax != (-libc::ENOSYS) as u64 {
        return None;
    }
    let nr = regs.orig_rax as i64;
    let path = (nr == libc::SYS_openat).then(|| {
        let mem = File::open(format!("/proc/{pid}/mem")).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = mem.read_at(&mut buf, regs.rsi).unwrap_or(0);
        let end = buf[..n].iter().position(|&b| b == 0).unwrap_or(n);
        buf.truncate(end);
        PathBuf::from(std::ffi::OsString::from_vec(buf))
    });
    Some(Entry {
        nr,
        arg0: regs.rdi,
        path,
        flags: regs.rdx,
    })
}

/// Makes the system call the tracee is stopped at the entry of fail with
/// `errno`: skipped now (-1 as its number), its result set at the exit stop
/// that follows (see [`failed_syscall`]).
#[cfg(target_arch = "x86_64")]
fn skip_syscall(pid: libc::pid_t) {
    let mut r = regs(pid);
    r.orig_rax = u64::MAX;
    set_regs(pid, &r);
}

#[cfg(target_arch = "x86_64")]
fn set_result(pid: libc::pid_t, errno: i32) {
    let mut r = regs(pid);
    r.rax = (-i64::from(errno)) as u64;
    set_regs(pid, &r);
}

#[cfg(not(target_arch = "x86_64"))]
fn syscall_entry(_: libc::pid_t) -> Option<Entry> {
    panic!("reading a tracee's system call arguments is written for x86_64 only");
}

#[cfg(not(target_arch = "x86_64"))]
fn skip_syscall(_: libc::pid_t) {
    panic!("changing a tracee's system calls is written for x86_64 only");
}

#[cfg(not(target_arch = "x86_64"))]
fn set_result(_: libc::pid_t, _: i32) {
    panic!("changing a tracee's system calls is written for x86_64 only");
}

/// Runs `cmd` traced, calling `at_stop` at each system call stop (entry
/// and exit). A run still going after 10 s hung, and is killed. Returns
/// its exit code, and its stdout and stderr (through a pipe, which a file
/// size limit does not cut).
fn traced(cmd: &mut Command, mut at_stop: impl FnMut(libc::pid_t)) -> (Option<i32>, String) {
    let (mut reader, writer) = io::pipe().unwrap();
    cmd.stdout(writer.try_clone().unwrap()).stderr(writer);
    let pid = spawn_traced(cmd);
    // The run holds the only writer: the read ends when it does.
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let output = std::thread::spawn(move || {
        let mut out = String::new();
        io::Read::read_to_string(&mut reader, &mut out).unwrap();
        out
    });
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if start.elapsed() > Duration::from_secs(10) {
                    // SAFETY: signals our own traced child, not yet reaped.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return true;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            false
        })
    };
    let mut signal = 0;
    let status = loop {
        ptrace(libc::PTRACE_SYSCALL, pid, signal);
        let status = wait_status(pid);
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            break status;
        }
        signal = match libc::WSTOPSIG(status) {
            s if s == libc::SIGTRAP | 0x80 => {
                at_stop(pid);
                0
            }
            s => s as usize,
        };
    };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(!watchdog.join().unwrap(), "the traced run hung");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, output.join().unwrap())
}

/// [`traced`], calling `act` at the first system call entry that `when`
/// picks: a moment between two steps of the run, where another process
/// could act.
fn intervened(
    cmd: &mut Command,
    mut when: impl FnMut(&Entry) -> bool,
    act: impl FnOnce(),
) -> (Option<i32>, String) {
    let mut act = Some(act);
    let result = traced(cmd, |pid| {
        if act.is_some() && syscall_entry(pid).is_some_and(|e| when(&e)) {
            act.take().unwrap()();
        }
    });
    assert!(
        act.is_none(),
        "the run never reached the chosen system call"
    );
    result
}

/// [`traced`], with the first system call that `when` picks failing with
/// `errno`, as a file system or kernel without it would answer.
fn failed_syscall(
    cmd: &mut Command,
    mut when: impl FnMut(&Entry) -> bool,
    errno: i32,
) -> (Option<i32>, String) {
    // 0: not yet; 1: skipped at its entry, the exit stop is next; 2: done.
    let mut state = 0;
    let result = traced(cmd, |pid| match state {
        0 if syscall_entry(pid).is_some_and(|e| when(&e)) => {
            skip_syscall(pid);
            state = 1;
        }
        1 => {
            set_result(pid, errno);
            state = 2;
        }
        _ => {}
    });
    assert_eq!(state, 2, "the run never reached the chosen system call");
    result
}

/// [`intervened`] at the first `openat(2)` of `name`: after the path was
/// checked, before it is opened, the one moment a swapped file could slip
/// through.
fn swapped_at_open(cmd: &mut Command, name: &Path, swap: impl FnOnce()) -> (Option<i32>, String) {
    intervened(
        cmd,
        |e| e.nr == libc::SYS_openat && e.path.as_deref() == Some(name),
        swap,
    )
}

/// Replaces `path` with a FIFO (or, with `link`, a symlink to `link`) in
/// one rename.
fn replace_with(path: &Path, link: Option<&Path>) {
    let tmp = path.with_extension("swap");
    match link {
        Some(to) => std::os::unix::fs::symlink(to, &tmp).unwrap(),
        None => mkfifo(&tmp),
    }
    fs::rename(&tmp, path).unwrap();
}

/// A file swapped between its check and its open: for a FIFO, the open
/// must not block (`O_NONBLOCK`) and the fd must be checked again (the
/// type on the fd, not the path); for a symlink in the autokey's place,
/// the open must not follow it (`O_NOFOLLOW`), even to a good key.
#[test]
fn files_swapped_between_check_and_open_are_refused() {
    need_root("tracing a run");
    // What is swapped, with what, and the one line the run must answer.
    enum Swap {
        Target,
        Key,
        Autokey,
    }
    let cases = [
        (
            &["--check"][..],
            Swap::Target,
            None,
            3,
            "UNKNOWN: target {t} is a FIFO, not a regular or procfs file: check -P",
        ),
        (
            &[],
            Swap::Target,
            None,
            1,
            "error: target {t} is a FIFO, not a regular or procfs file: check -P",
        ),
        (
            &[],
            Swap::Key,
            None,
            1,
            "error: main key file {k} is a FIFO, not a regular file: point it at a file of 32 bytes",
        ),
        (
            &["-a", "{a}"],
            Swap::Autokey,
            None,
            1,
            "error: autokey {a} is a FIFO, not a regular file: remove it, and the next run makes a new one",
        ),
        (
            &["-a", "{a}"],
            Swap::Autokey,
            Some("good.key"),
            1,
            "error: cannot read autokey {a}: Too many levels of symbolic links: check the path and its permissions",
        ),
    ];
    for (extra, swap, link, want_code, want) in cases {
        let d = Dir::new("swap");
        let (key, target) = (d.spec_key(), d.target());
        let auto = d.file("auto.key", &[0x11; 32]);
        let good = d.file("good.key", &[0x22; 32]);
        let fill = |text: &str| {
            text.replace("{t}", target.to_str().unwrap())
                .replace("{k}", key.to_str().unwrap())
                .replace("{a}", auto.to_str().unwrap())
        };
        let (swapped, name) = match swap {
            Swap::Target => (&target, target.clone()),
            Swap::Key => (&key, key.clone()),
            // The autokey is opened relative to its directory.
            Swap::Autokey => (&auto, PathBuf::from("auto.key")),
        };
        let mut cmd = tofurkey();
        cmd.args(extra.iter().map(|a| fill(a)))
            .args(["-T", T, "-P", target.to_str().unwrap()]);
        if !matches!(swap, Swap::Autokey) {
            cmd.arg("-k").arg(&key);
        }
        let link = link.map(|_| good.as_path());
        let (code, out) = swapped_at_open(&mut cmd, &name, || replace_with(swapped, link));
        assert_eq!((code, out), (Some(want_code), format!("{}\n", fill(want))));
        if !matches!(swap, Swap::Target) {
            assert_eq!(bytes(&target), OLD_PAIR);
        }
    }
}

/// A key file replaced between the check of its path and its open by
/// another user's link to a key of root's (a key that user may know): the
/// file opened is not the one the path led to, so it is refused, never
/// read; without the second look the run would use the other key.
#[test]
fn a_key_replaced_by_a_link_at_its_open_is_refused() {
    need_root("tracing a run");
    let d = Dir::new("swap-link");
    let (key, target) = (d.spec_key(), d.target());
    let other = d.file("other.key", &[0x22; 32]);
    let mut cmd = tofurkey();
    cmd.args(["-T", T, "-P", target.to_str().unwrap(), "-k"])
        .arg(&key);
    let (code, out) = swapped_at_open(&mut cmd, &key, || {
        let tmp = key.with_extension("swap");
        std::os::unix::fs::symlink(&other, &tmp).unwrap();
        std::os::unix::fs::lchown(&tmp, Some(65534), Some(65534)).unwrap();
        fs::rename(&tmp, &key).unwrap();
    });
    assert_eq!(
        (code, out),
        (
            Some(1),
            format!(
                "error: main key file {} was replaced while it was being opened: run again, \
                 and check what else changes that path\n",
                key.display()
            )
        )
    );
    assert_eq!(bytes(&target), OLD_PAIR);
}

/// Where the file system has no `O_TMPFILE` (overlayfs before Linux 6.6,
/// NFS: simulated by failing the call with EOPNOTSUPP), the autokey is made
/// through a temporary file of a random name, made with O_EXCL and removed
/// after the link: the key is whole, 0600, used by the next run, and
/// nothing else is left.
#[test]
fn without_o_tmpfile_a_named_temporary_file_is_used_and_removed() {
    need_root("tracing a run");
    let d = Dir::new("no-tmpfile");
    let (auto, target) = (d.path("auto.key"), d.target());
    let (code, out) = failed_syscall(
        tofurkey().args([
            "-V",
            "-a",
            auto.to_str().unwrap(),
            "-P",
            target.to_str().unwrap(),
        ]),
        |e| e.nr == libc::SYS_openat && e.flags & libc::O_TMPFILE as u64 == libc::O_TMPFILE as u64,
        libc::EOPNOTSUPP,
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("created a new random main key"), "{out}");
    let names: Vec<_> = listing(&d.0).into_iter().map(|e| (e.0, e.2)).collect();
    assert_eq!(
        names,
        [("auto.key".into(), 0o600), ("target".into(), 0o600)]
    );
    let again = run(&["-V", "-n", "-a", auto.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    let pair = out.lines().find_map(|l| l.rsplit_once("] ")).unwrap().1;
    assert_eq!(keys_line(&again), pair);
}

/// Another run links its autokey in between this run's check and its
/// link (planted here, as another user's, at the `linkat`): the loser
/// reads the winner's key only through the same checks as any autokey, so
/// a foreign one is refused, never used.
#[test]
fn a_key_linked_in_first_is_checked_like_any_autokey() {
    need_root("tracing a run");
    let d = Dir::new("lost-race");
    let (auto, target) = (d.path("auto.key"), d.target());
    let (code, out) = intervened(
        tofurkey().args(["-a", auto.to_str().unwrap(), "-P", target.to_str().unwrap()]),
        |e| e.nr == libc::SYS_linkat,
        || {
            d.file("auto.key", &[0x33; 32]);
            give_to_nobody(&auto);
        },
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with(&format!(
            "error: autokey {} has owner uid 65534 and mode 0600",
            auto.display()
        )),
        "{out}"
    );
    assert_eq!(bytes(&target), OLD_PAIR);
}

/// Another writer's whole pair lands between this run's write and its read
/// back: it is someone else's newer write, and putting the old pair back
/// would undo it, so it is left, and the error says so.
#[test]
fn another_writers_pair_is_not_undone() {
    need_root("tracing a run");
    let d = Dir::new("other-writer");
    let (key, target) = (d.spec_key(), d.target());
    let theirs = b"5eed5eed-5eed5eed-5eed5eed-5eed5eed,feedbeef-feedbeef-feedbeef-feedbeef\0";
    let mut wrote = false;
    let (code, out) = intervened(
        tofurkey().arg("-k").arg(&key).arg("-P").arg(&target),
        // The read back: the first pread64 after the pwrite64.
        |e| {
            wrote |= e.nr == libc::SYS_pwrite64;
            wrote && e.nr == libc::SYS_pread64
        },
        || fs::write(&target, theirs).unwrap(),
    );
    assert_eq!(
        (code, out),
        (
            Some(1),
            format!(
                "error: {} reads back a different key pair after the write; another writer's \
                 pair is there now, left as it is: check that nothing else writes it and that it \
                 keeps what is written\n",
                target.display()
            )
        )
    );
    assert_eq!(bytes(&target), theirs);
}

/// The vector's key as root's (mode 0600), and a copy of nobody's own, in a
/// directory anyone may enter: each user trusts and reads its own, and a
/// run gets as far as the target.
fn public_key(d: &Dir) -> (PathBuf, PathBuf) {
    set_mode(&d.0, 0o755);
    let nobodys = d.file("nobody.key", &hex::decode(SPEC_MAIN).unwrap());
    give_to_nobody(&nobodys);
    (d.spec_key(), nobodys)
}

/// Targets that refuse the keys, each a real kernel file in namespaces the
/// test made: a sysctl that takes numbers only (EINVAL), the TFO key file
/// for an unprivileged user (EACCES), and a sysctl that keeps only its first
/// 64 characters (reads back different). Each: exit 1, one line naming the
/// file and the cause, no key material, nothing else changed.
#[test]
fn refused_writes_fail_with_one_clear_line() {
    let ns = Ns::new(&["--net", "--uts"], "hostname tofurkey-old");
    let d = Dir::new("refused");
    let (key, nobodys) = public_key(&d);
    let attempt = |as_nobody: bool, target: Option<&str>| {
        let mut c = ns.tofurkey(as_nobody.then_some(&d));
        let k = if as_nobody { &nobodys } else { &key };
        c.arg("-k").arg(k).args(["-T", T]);
        if let Some(t) = target {
            c.args(["-P", t]);
        }
        let o = bounded(&mut c);
        assert_no_secrets(&o.stderr, &secrets(&[SPEC_PAIR]));
        o
    };

    let forward = "/proc/sys/net/ipv4/ip_forward";
    let before = ns.read(forward);
    let o = attempt(false, Some(forward));
    one_line(
        &o,
        &format!("error: cannot write {forward}: Invalid argument"),
    );
    assert_eq!(ns.read(forward), before);

    let before = ns.read(PROCFS_KEY);
    let o = attempt(true, None);
    one_line(
        &o,
        &format!("error: cannot open {PROCFS_KEY}: Permission denied"),
    );
    assert_eq!(ns.read(PROCFS_KEY), before);

    // Keeps 64 of the 71 characters, as a kernel that keeps one key keeps
    // half the pair: the old value is written back, and the error says so.
    let hostname = "/proc/sys/kernel/hostname";
    let o = attempt(false, Some(hostname));
    one_line(
        &o,
        &format!(
            "error: {hostname} reads back 64 bytes in 2 fields, not a key pair after the write; \
             the old keys were put back: check that nothing else writes it"
        ),
    );
    assert_eq!(ns.read(hostname), "tofurkey-old\n");
}

/// A run that writes `key`'s pair to the `-P` file `target`, under
/// `RLIMIT_FSIZE` `limit`: writes past that many bytes are cut short, or
/// fail with EFBIG (SIGXFSZ is ignored, not fatal).
fn with_file_size_limit(limit: u64, key: &Path, target: &Path) -> Command {
    let mut c = tofurkey();
    c.args(["-k", key.to_str().unwrap(), "-T", T])
        .args(["-P", target.to_str().unwrap()]);
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit is async-signal-safe, fine between fork and exec.
    unsafe {
        c.pre_exec(move || match libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        });
    }
    c
}

/// Writes cut short by `RLIMIT_FSIZE`: with a limit of 0 the write fails
/// (EFBIG; SIGXFSZ is ignored, not fatal) and nothing changed; with 50 the
/// write stops at 50 of 72 bytes, and the old content is put back: the
/// old pair, or an empty file. Zeros (never-set keys) are not written back.
#[test]
fn writes_cut_short_put_the_old_keys_back() {
    let d = Dir::new("fsize");
    let key = d.spec_key();
    let zeros = b"00000000-00000000-00000000-00000000,00000000-00000000-00000000-00000000\n";
    for (limit, old, want, after) in [
        (
            0,
            OLD_PAIR,
            "write {t}: File too large; the keys in place are unchanged",
            OLD_PAIR,
        ),
        (
            50,
            OLD_PAIR,
            "write {t}: short write, 50 of 72 bytes; the old keys were put back",
            OLD_PAIR,
        ),
        (
            50,
            b"",
            "write {t}: short write, 50 of 72 bytes; the old keys were put back",
            b"",
        ),
        // The most a target may hold, put back whole.
        (
            50,
            &[b'x'; 128],
            "write {t}: short write, 50 of 72 bytes; the old keys were put back",
            &[b'x'; 128],
        ),
        (
            50,
            zeros,
            "write {t}: short write, 50 of 72 bytes; it held no keys before, so none were put back",
            // What the cut write left: writing zeros back would set a real
            // all-zero key.
            &[&SPEC_PAIR.as_bytes()[..50], &zeros[50..]].concat(),
        ),
    ] {
        let target = d.file("target", old);
        let o = bounded(&mut with_file_size_limit(limit, &key, &target));
        let want = want.replace("{t}", &target.display().to_string());
        one_line(&o, &format!("error: cannot {want}: "));
        assert_eq!(bytes(&target), after, "limit {limit}");
    }
}

/// A cut write whose put-back then fails (EIO, as a failing disk answers):
/// the error says the old keys are not back, and why, in the system's
/// words; the target holds what the cut write left.
#[test]
fn a_failed_put_back_says_why() {
    need_root("tracing a run");
    let d = Dir::new("put-back-fails");
    let (key, target) = (d.spec_key(), d.target());
    let mut writes = 0;
    let (code, out) = failed_syscall(
        &mut with_file_size_limit(50, &key, &target),
        // The second write: the put-back.
        |e| {
            writes += usize::from(e.nr == libc::SYS_pwrite64);
            writes == 2
        },
        libc::EIO,
    );
    assert_eq!(
        (code, out),
        (
            Some(1),
            format!(
                "error: cannot write {}: short write, 50 of 72 bytes; putting the old keys back \
                 failed (Input/output error): check -P\n",
                target.display()
            )
        )
    );
    assert_eq!(
        bytes(&target),
        [&SPEC_PAIR.as_bytes()[..50], &OLD_PAIR[50..]].concat()
    );
}

/// A target of the most it may hold (128 bytes) to which something was
/// added during the run: it starts with the old content but is not what it
/// was, so it is not taken for unchanged, and is cut back to the old.
/// (Here the run's own write fails, EFBIG under a file size limit of 0.)
#[test]
fn a_target_that_grew_is_not_taken_for_unchanged() {
    need_root("tracing a run");
    let d = Dir::new("grew");
    let key = d.spec_key();
    let old = [b'x'; 128];
    let target = d.file("target", &old);
    let (code, out) = intervened(
        &mut with_file_size_limit(0, &key, &target),
        |e| e.nr == libc::SYS_pwrite64,
        || {
            let mut f = fs::OpenOptions::new().append(true).open(&target).unwrap();
            f.write_all(b"y").unwrap();
        },
    );
    assert_eq!(
        (code, out),
        (
            Some(1),
            format!(
                "error: cannot write {}: File too large; the old keys were put back: \
                 make room (or raise the file size limit), or check -P\n",
                target.display()
            )
        )
    );
    assert_eq!(bytes(&target), old);
}

/// A `-P` file is opened O_SYNC: the write returns once the keys are on
/// disk (the procfs file's writes are synchronous anyway).
#[test]
fn a_target_file_is_written_synchronously() {
    need_root("tracing a run");
    let d = Dir::new("o-sync");
    let (key, target) = (d.spec_key(), d.target());
    let mut flags = None;
    let (code, out) = traced(
        tofurkey()
            .args(["-k", key.to_str().unwrap(), "-T", T, "-P"])
            .arg(&target),
        |pid| {
            // At the write, the target's open file's flags (octal).
            let Some(e) = syscall_entry(pid).filter(|e| e.nr == libc::SYS_pwrite64) else {
                return;
            };
            let fdinfo = fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", e.arg0)).unwrap();
            let octal = fdinfo.lines().find_map(|l| l.strip_prefix("flags:"));
            flags = octal.map(|f| i32::from_str_radix(f.trim(), 8).unwrap());
        },
    );
    assert_eq!(code, Some(0), "{out}");
    let flags = flags.expect("the target was written");
    assert_eq!(flags & libc::O_SYNC, libc::O_SYNC, "flags {flags:o}");
}

/// Plants a link to `bait` at the name of the temporary file a run
/// creates in `dir`, at its `openat(2)`: the name is random, but nothing
/// at it, a link least of all, may be opened (O_EXCL, O_NOFOLLOW). With
/// `no_tmpfile`, O_TMPFILE first fails as on a file system without it.
fn planted_at_temporary_name(
    cmd: &mut Command,
    dir: &Path,
    bait: &Path,
    no_tmpfile: bool,
) -> (Option<i32>, String) {
    // 0: O_TMPFILE to fail; 1: its exit stop is next; 2: the link to
    // plant; 3: done.
    let mut state = if no_tmpfile { 0 } else { 2 };
    let tmpfile = libc::O_TMPFILE as u64;
    let result = traced(cmd, |pid| match state {
        0 if syscall_entry(pid)
            .is_some_and(|e| e.nr == libc::SYS_openat && e.flags & tmpfile == tmpfile) =>
        {
            skip_syscall(pid);
            state = 1;
        }
        1 => {
            set_result(pid, libc::EOPNOTSUPP);
            state = 2;
        }
        2 => {
            let Some(e) = syscall_entry(pid) else { return };
            let creates = e.nr == libc::SYS_openat && e.flags & libc::O_CREAT as u64 != 0;
            if let Some(name) = e
                .path
                .filter(|p| creates && p.to_string_lossy().ends_with(".tmp"))
            {
                std::os::unix::fs::symlink(bait, dir.join(name)).unwrap();
                state = 3;
            }
        }
        _ => {}
    });
    assert_eq!(state, 3, "the run never created a temporary file");
    result
}

/// A link planted at the autokey's temporary name (made where there is
/// no O_TMPFILE) is not followed: the run fails, and the key is written
/// nowhere, neither where the link points nor as the autokey.
#[test]
fn a_link_at_the_autokeys_temporary_name_is_not_followed() {
    need_root("tracing a run");
    let d = Dir::new("planted-autokey");
    let (auto, target, bait) = (d.path("auto.key"), d.target(), d.path("bait"));
    let (code, out) = planted_at_temporary_name(
        tofurkey().args(["-a", auto.to_str().unwrap(), "-P", target.to_str().unwrap()]),
        &d.0,
        &bait,
        true,
    );
    assert_eq!(
        (code, out),
        (
            Some(1),
            format!(
                "error: cannot create autokey {} (create temporary file): File exists: make its \
                 directory exist and be writable, or use -a PATH or -k PATH\n",
                auto.display()
            )
        )
    );
    assert!(!bait.exists() && !auto.exists());
    assert_eq!(bytes(&target), OLD_PAIR);
}

/// The same for a file written whole under a temporary name and renamed
/// (here the metrics file; ticket key files are written the same way).
#[test]
fn a_link_at_a_staged_files_temporary_name_is_not_followed() {
    need_root("tracing a run");
    let d = Dir::new("planted-staged");
    let (key, target, bait) = (d.spec_key(), d.target(), d.path("bait"));
    let metrics = d.path("tofurkey.prom");
    let (code, out) = planted_at_temporary_name(
        tofurkey()
            .args([
                "-k",
                key.to_str().unwrap(),
                "-T",
                T,
                "-P",
                target.to_str().unwrap(),
            ])
            .args(["--metrics", metrics.to_str().unwrap()]),
        &d.0,
        &bait,
        false,
    );
    assert_eq!(code, Some(1), "{out}");
    let want = format!(
        "error: cannot create a temporary file for metrics file {}: File exists",
        metrics.display()
    );
    assert!(out.lines().any(|l| l.starts_with(&want)), "{out}");
    assert!(!bait.exists() && !metrics.exists());
}

/// A failed run leaves the kernel's keys as they were. In a network
/// namespace keys are set; then each kind of failing run, and the runs that
/// never write, try with other keys; the kernel still holds the first pair.
#[test]
fn failed_runs_never_change_the_kernel_keys() {
    let d = Dir::new("keep");
    let full = d.path("full");
    fs::create_dir(&full).unwrap();
    let setup = format!("mount -t tmpfs -o nr_inodes=1 tmpfs {}", full.display());
    let ns = Ns::new(&["--net", "--mount"], &setup);
    let (key, _) = public_key(&d);
    let other = d.file("other.key", &[0x42; 32]);
    let nobodys = d.file("nobodys.key", &[0x42; 32]);
    give_to_nobody(&nobodys);
    let short = d.file("short.key", &[0x42; 31]);
    let zeros = d.file("zero.key", &[0; 32]);
    let creds = d.path("creds");
    fs::create_dir(&creds).unwrap();
    d.file("creds/tofurkey.key", &[0x42; 31]);

    let o = bounded(
        ns.tofurkey(None)
            .args(["-k", key.to_str().unwrap(), "-T", T]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let held = ns.read(PROCFS_KEY);
    assert_eq!(held.trim_end(), SPEC_PAIR, "the keys were set");

    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (other, nobodys, short, dir) = (s(&other), s(&nobodys), s(&short), s(&d.0));
    let zeros = s(&zeros);
    let (no_key, no_dir) = (s(&d.path("no.key")), s(&d.path("no/a.key")));
    let full_auto = s(&full.join("a.key"));
    let cases: Vec<(&str, i32, Vec<&str>)> = vec![
        ("short key file", 1, vec!["-k", &short]),
        ("missing key file", 1, vec!["-k", &no_key]),
        ("key is a directory", 1, vec!["-k", &dir]),
        ("short credential", 1, vec![]),
        ("no autokey directory", 1, vec!["-a", &no_dir]),
        ("autokey filesystem full", 1, vec!["-a", &full_auto]),
        ("zero key", 1, vec!["-k", &zeros]),
        ("another user's key file", 1, vec!["-k", &nobodys]),
        ("unwritable target", 1, vec!["-k", &nobodys]),
        ("bad interval", 2, vec!["-k", &other, "-i", "11"]),
        ("dry run", 0, vec!["-n", "-k", &other]),
        ("check", 2, vec!["--check", "-k", &other]),
    ];
    for (what, code, args) in cases {
        let mut c = ns.tofurkey((what == "unwritable target").then_some(&d));
        c.args(&args).args(["-T", T]);
        if what == "short credential" {
            c.env("CREDENTIALS_DIRECTORY", &creds);
        }
        let o = bounded(&mut c);
        assert_eq!(o.status.code(), Some(code), "{what}: {}", stderr(&o));
        assert_eq!(ns.read(PROCFS_KEY), held, "{what} changed the kernel keys");
    }
}

/// Every mode but -V, in namespaces where each failure is real, scanned
/// with all it emits (stderr, stdout, STATUS datagrams, files it made or
/// changed other than the autokey and the target) for the main keys and
/// the TFO keys a run at that time uses or compares with. Zero hits.
#[test]
fn nothing_emitted_holds_key_material() {
    let d = Dir::new("leaks");
    let full = d.path("full");
    fs::create_dir(&full).unwrap();
    let setup = format!("mount -t tmpfs -o nr_inodes=1 tmpfs {}", full.display());
    let ns = Ns::new(&["--net", "--uts", "--mount"], &setup);
    let (key, nobodys) = public_key(&d);
    let main = hex::decode(SPEC_MAIN).unwrap();
    let short_key = d.file("short.key", &main[..31]);
    let target = d.target();
    let auto = d.path("auto.key");
    let (creds, short_creds) = (d.path("creds"), d.path("short-creds"));
    for (dir, len) in [(&creds, 32), (&short_creds, 31)] {
        fs::create_dir(dir).unwrap();
        fs::write(dir.join("tofurkey.key"), &main[..len]).unwrap();
        set_mode(&dir.join("tofurkey.key"), 0o600);
    }
    let socket = d.path("notify.sock");
    let status = UnixDatagram::bind(&socket).unwrap();
    status.set_nonblocking(true).unwrap();
    set_mode(&socket, 0o777);

    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (k, nk, t, a) = (s(&key), s(&nobodys), s(&target), s(&auto));
    let (old, short) = (s(&d.file("old", OLD_PAIR)), s(&short_key));
    let (no_key, no_target) = (s(&d.path("no.key")), s(&d.path("no-target")));
    let (no_dir, full_auto) = (s(&d.path("no/a.key")), s(&full.join("a.key")));
    let (procfs_einval, procfs_truncates) =
        ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/hostname");
    // What each mode is, its exit code (so that each fails where it is meant
    // to, not earlier), and its arguments besides -T.
    let modes: Vec<(&str, i32, Vec<&str>)> = vec![
        ("normal", 0, vec!["-k", &k, "-P", &t]),
        ("verbose", 0, vec!["-v", "-k", &k, "-P", &t]),
        ("procfs target", 0, vec!["-v", "-k", &k]),
        ("dry run", 0, vec!["-n", "-v", "-k", &k]),
        ("check in sync", 0, vec!["--check", "-k", &k]),
        (
            "check out of sync",
            2,
            vec!["--check", "-k", &k, "-P", &old],
        ),
        ("autokey made", 0, vec!["-v", "-a", &a, "-P", &t]),
        ("autokey reused", 0, vec!["-v", "-a", &a, "-P", &t]),
        ("check autokey", 0, vec!["--check", "-a", &a, "-P", &t]),
        ("credential", 0, vec!["-v", "-P", &t]),
        ("check credential", 0, vec!["--check", "-P", &t]),
        ("short key", 1, vec!["-v", "-k", &short]),
        ("short credential", 1, vec!["-v", "-P", &t]),
        ("missing key", 1, vec!["-v", "-k", &no_key]),
        ("missing target", 1, vec!["-v", "-k", &k, "-P", &no_target]),
        (
            "check, no target",
            3,
            vec!["--check", "-k", &k, "-P", &no_target],
        ),
        (
            "target keeps nothing",
            1,
            vec!["-v", "-k", &k, "-P", "/dev/null"],
        ),
        (
            "target truncates",
            1,
            vec!["-v", "-k", &k, "-P", procfs_truncates],
        ),
        (
            "target EINVAL",
            1,
            vec!["-v", "-k", &k, "-P", procfs_einval],
        ),
        ("target EACCES", 1, vec!["-v", "-k", &nk]),
        ("no autokey directory", 1, vec!["-v", "-a", &no_dir]),
        ("autokey filesystem full", 1, vec!["-v", "-a", &full_auto]),
        ("usage error", 2, vec!["-v", "-k", &k, "-i", "11"]),
        ("print timer", 0, vec!["--print-timer"]),
        ("help", 0, vec!["--help"]),
        ("version", 0, vec!["--version"]),
    ];

    let view = ns.path(&d.0);
    let mut emitted: Vec<(String, Vec<u8>)> = Vec::new();
    let mut datagrams = 0;
    for (what, code, args) in &modes {
        let before = snapshot(&view);
        let mut c = ns.tofurkey((*what == "target EACCES").then_some(&d));
        c.args(args).args(["-T", &LATER.to_string()]);
        c.env("NOTIFY_SOCKET", &socket);
        match *what {
            "credential" | "check credential" => c.env("CREDENTIALS_DIRECTORY", &creds),
            "short credential" => c.env("CREDENTIALS_DIRECTORY", &short_creds),
            _ => &mut c,
        };
        let o = bounded(&mut c);
        assert_eq!(o.status.code(), Some(*code), "{what}: {}", stderr(&o));
        emitted.push((format!("{what}: stderr"), o.stderr));
        emitted.push((format!("{what}: stdout"), o.stdout));
        let mut buf = [0u8; 4096];
        while let Ok(n) = status.recv(&mut buf) {
            emitted.push((format!("{what}: STATUS"), buf[..n].to_vec()));
            datagrams += 1;
        }
        let after = snapshot(&view);
        for (path, content) in after {
            let written_on_purpose = path.ends_with("auto.key") || path.ends_with("target");
            if !written_on_purpose && before.get(&path) != Some(&content) {
                emitted.push((format!("{what}: file {}", path.display()), content));
            }
        }
    }
    assert!(datagrams >= modes.len() / 2, "STATUS was sent: {datagrams}");

    // What to look for: both main keys, and the pairs each gives at T and
    // half an interval around it (--check computes all three), from -V
    // runs that are not scanned.
    let made = fs::read(&auto).unwrap();
    let mut secrets = vec![main.clone(), made];
    let mut control = Vec::new();
    for file in [&key, &auto] {
        for time in [LATER - HALF, LATER, LATER + HALF] {
            let o = run(&[
                "-V",
                "-n",
                "-k",
                file.to_str().unwrap(),
                "-T",
                &time.to_string(),
            ]);
            secrets.extend(tfo_keys(&keys_line(&o)));
            control = o.stderr;
        }
    }
    // The scan finds what -V prints, and a raw key in a file.
    assert!(secrets.iter().any(|s| leak(&control, s) == Some("hex")));
    assert_eq!(
        leak(&fs::read(&auto).unwrap(), &secrets[1]),
        Some("raw bytes")
    );

    let hits: Vec<String> = emitted
        .iter()
        .flat_map(|(source, bytes)| {
            secrets.iter().enumerate().filter_map(move |(i, s)| {
                leak(bytes, s).map(|f| format!("{source}: secret {i} as {f}"))
            })
        })
        .collect();
    assert!(
        hits.is_empty(),
        "key material emitted:\n{}",
        hits.join("\n")
    );
}
