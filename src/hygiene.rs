//! Process hygiene for a program that holds secrets for a moment: no core
//! dumps, not ptrace-attachable by other users, memory locked when root, and
//! signals held off while key material exists.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use nix::sys::mman::{MlockAllFlags, mlockall};
use nix::sys::prctl::set_dumpable;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::geteuid;

/// If fd 0, 1 or 2 is closed, opens /dev/null on it, so that a key file or
/// the target can never be opened as "stderr" and receive log lines. Run
/// first thing. `None` when /dev/null cannot fill the gap (then stop).
pub fn reopen_closed_std_fds() -> Option<()> {
    for fd in 0..3 {
        if fcntl(fd, FcntlArg::F_GETFD) == Err(Errno::EBADF) {
            // open(2) returns the lowest free fd: `fd` itself, since it is
            // the lowest closed one (those below were just filled).
            let null = OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .ok()?;
            if null.as_raw_fd() != fd {
                return None;
            }
            // Kept open for the life of the process, as fds 0-2 are.
            let _ = null.into_raw_fd();
        }
    }
    Some(())
}

/// Turns off core dumps and dumpability, and locks memory when root.
/// Returns warnings for what the kernel refused; none of them stops a run,
/// because leaving a host without keys is worse (1.3.4 aborts when mlockall
/// is refused, as inside containers and hardened units without CAP_IPC_LOCK).
pub fn harden() -> Vec<String> {
    let mut warnings = Vec::new();
    if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
        warnings.push(format!("cannot disable core dumps: {e}"));
    }
    if let Err(e) = set_dumpable(false) {
        warnings.push(format!("cannot clear dumpable: {e}"));
    }
    // As 1.3.4: current and future pages, locked as they are touched.
    let lock = MlockAllFlags::MCL_CURRENT
        | MlockAllFlags::MCL_FUTURE
        | MlockAllFlags::from_bits_retain(libc::MCL_ONFAULT);
    if geteuid().is_root()
        && let Err(e) = mlockall(lock)
    {
        warnings.push(format!(
            "mlockall refused ({e}): key material could reach swap; grant CAP_IPC_LOCK to lock it"
        ));
    }
    warnings
}

/// Ignores the signals that output errors raise, so that they come back
/// as errors the code handles instead of killing the run: SIGPIPE (stderr
/// is a closed pipe) and SIGXFSZ (a write beyond `RLIMIT_FSIZE`). std's
/// runtime would ignore SIGPIPE, but `main.rs` is `no_main`.
pub fn ignore_output_signals() {
    for signal in [Signal::SIGPIPE, Signal::SIGXFSZ] {
        // SAFETY: SIG_IGN installs no handler, so no code runs in signal
        // context; both signals are valid and catchable, so it cannot fail.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigIgn) };
    }
}

/// Blocks every blockable signal until dropped, so that a Ctrl-C or a
/// SIGTERM cannot cut a run between reading the key and wiping it (or
/// between storing a new autokey and setting keys from it). Taken only
/// once every file is open: the one wait inside is a pipe's, bounded.
pub struct SignalGuard(SigSet);

impl SignalGuard {
    /// Blocks all signals; an error if the kernel refused (then nothing
    /// changed, and a run must not go on: 1.3.4 aborts here).
    pub fn block() -> io::Result<SignalGuard> {
        let mut old = SigSet::empty();
        sigprocmask(
            SigmaskHow::SIG_SETMASK,
            Some(&SigSet::all()),
            Some(&mut old),
        )?;
        Ok(SignalGuard(old))
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        // Restoring a mask the kernel gave us cannot fail.
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.0), None);
    }
}
