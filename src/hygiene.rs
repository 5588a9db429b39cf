//! Process hygiene for a program that holds secrets for a moment: no core
//! dumps, not ptrace-attachable by other users, memory locked when root, and
//! signals held off while key material exists (a stop signal meanwhile read
//! from a signalfd, to be reported rather than die of).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::mman::{MlockAllFlags, mlockall};
use nix::sys::prctl::set_dumpable;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::geteuid;

use crate::fileio::os_error;

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

/// Keeps SIGXFSZ (a write beyond `RLIMIT_FSIZE`) blocked for the whole
/// run, so that such a write fails with EFBIG, an error the code reports,
/// instead of killing the run. Blocked rather than ignored: sigprocmask has
/// a safe API and a blocked SIGXFSZ is never delivered (no run unblocks it:
/// [`SignalGuard`] restores this mask). std's runtime already ignores
/// SIGPIPE and opens /dev/null on a closed fd 0-2.
pub fn block_file_size_signal() {
    let mut set = SigSet::empty();
    set.add(Signal::SIGXFSZ);
    // Blocking a valid signal cannot fail.
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
}

/// The signals that ask a run to stop: systemd's stop and start timeout
/// (SIGTERM), Ctrl-C (SIGINT), a closed terminal (SIGHUP).
const STOP_SIGNALS: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];

/// Blocks every blockable signal until dropped, so that a Ctrl-C or a
/// SIGTERM cannot cut a run between reading the key and wiping it (or
/// between storing a new autokey and setting keys from it). Taken only
/// once every file is open: the waits inside are a pipe's and HAProxy's,
/// bounded. A stop signal that comes meanwhile can be read from
/// [`StopSignals`]: a wait ends on it, and [`SignalGuard::release`] takes
/// it, so that the run reports it instead of dying of it.
pub struct SignalGuard {
    old: SigSet,
    stop: StopSignals,
}

impl SignalGuard {
    /// Blocks all signals; an error if the kernel refused (then nothing
    /// changed, and a run must not go on: 1.3.4 aborts here).
    pub fn block() -> Result<SignalGuard, SignalError> {
        let mut stop_set = SigSet::empty();
        for signal in STOP_SIGNALS {
            stop_set.add(signal);
        }
        // Made before the block: on failure, nothing changed.
        let fd = SignalFd::with_flags(&stop_set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| SignalError::Watch(e.into()))?;
        let mut old = SigSet::empty();
        sigprocmask(
            SigmaskHow::SIG_SETMASK,
            Some(&SigSet::all()),
            Some(&mut old),
        )
        .map_err(|e| SignalError::Hold(e.into()))?;
        Ok(SignalGuard {
            old,
            stop: StopSignals(fd),
        })
    }

    /// The stop signals that came while signals are held.
    pub fn stop_signals(&self) -> &StopSignals {
        &self.stop
    }

    /// Restores the mask, first taking the stop signal that came while
    /// signals were held and was not taken yet, if any: the caller reports
    /// it (the run's entry and metrics are written), where being killed by
    /// it would leave keys set and nothing said.
    pub fn release(self) -> Option<Signal> {
        self.stop.take()
        // Dropped here: the mask is restored.
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        // Restoring a mask the kernel gave us cannot fail.
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// SIGTERM, SIGINT and SIGHUP while a [`SignalGuard`] holds them: a
/// non-blocking signalfd, readable when one is pending. A signal taken from
/// it is not delivered when the mask is restored.
pub struct StopSignals(SignalFd);

impl StopSignals {
    /// Takes every pending stop signal; the first, if any.
    pub fn take(&self) -> Option<Signal> {
        let mut first = None;
        // Each signal is pending once at most: this ends.
        while let Ok(Some(info)) = self.0.read_signal() {
            let signal = i32::try_from(info.ssi_signo)
                .ok()
                .and_then(|n| Signal::try_from(n).ok());
            first = first.or(signal);
        }
        first
    }
}

impl AsFd for StopSignals {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Why signals could not be held.
#[derive(Debug)]
pub enum SignalError {
    /// The signalfd for the stop signals could not be made.
    Watch(io::Error),
    /// The mask was refused.
    Hold(io::Error),
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::Watch(why) => write!(
                f,
                "cannot watch for stop signals (signalfd): {}",
                os_error(why)
            ),
            SignalError::Hold(why) => write!(
                f,
                "cannot hold signals while the key is in memory: {}",
                os_error(why)
            ),
        }
    }
}

impl SignalError {
    /// What the admin should do about it (printed after the message).
    pub(crate) fn fix(&self) -> Option<&'static str> {
        Some(match self {
            // Out of file descriptors or memory.
            SignalError::Watch(_) => {
                "check the open file limit (LimitNOFILE=, ulimit -n) and memory"
            }
            // The kernel refuses only an invalid mask: tofurkey's bug.
            SignalError::Hold(_) => "report this as a bug",
        })
    }
}
