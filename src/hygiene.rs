//! Process hygiene for a program that holds secrets for a moment: no core
//! dumps, not ptrace-attachable by other users, memory locked when root, and
//! signals held off while key material exists.

use std::io;

use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};

/// Turns off core dumps and dumpability, and locks memory when root.
/// Returns warnings for what the kernel refused; none of them stops a run,
/// because leaving a host without keys is worse (1.3.4 aborts when mlockall
/// is refused, as inside containers and hardened units without CAP_IPC_LOCK).
pub fn harden() -> Vec<String> {
    let mut warnings = Vec::new();
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls with valid arguments; no memory is shared.
    unsafe {
        if libc::setrlimit(libc::RLIMIT_CORE, &no_core) != 0 {
            warnings.push(format!(
                "cannot disable core dumps: {}",
                io::Error::last_os_error()
            ));
        }
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
            warnings.push(format!(
                "cannot clear dumpable: {}",
                io::Error::last_os_error()
            ));
        }
        if libc::geteuid() == 0
            && libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) != 0
        {
            warnings.push(format!(
                "mlockall refused ({}): key material could reach swap; grant CAP_IPC_LOCK to lock it",
                io::Error::last_os_error()
            ));
        }
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
