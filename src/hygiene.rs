//! Process hygiene for a program that holds secrets for a moment: no core
//! dumps, not ptrace-attachable by other users, memory locked when root, and
//! signals held off while key material exists.

use std::io;

use nix::sys::mman::{MlockAllFlags, mlockall};
use nix::sys::prctl::set_dumpable;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::geteuid;

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

/// The fix when signals cannot be blocked: the kernel refuses only an
/// invalid mask, which would be tofurkey's bug.
pub const BLOCK_FAILED_FIX: &str = "report this as a bug";

impl Drop for SignalGuard {
    fn drop(&mut self) {
        // Restoring a mask the kernel gave us cannot fail.
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.0), None);
    }
}
