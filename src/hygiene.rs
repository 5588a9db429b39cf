//! Process hygiene for a program that holds secrets for a moment: no core
//! dumps, not ptrace-attachable by other users, memory locked when root, and
//! signals held off while key material exists.

use std::io;
use std::mem::MaybeUninit;

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

/// Blocks every blockable signal until dropped, so that a Ctrl-C or a
/// SIGTERM cannot cut a run between reading the key and wiping it (or
/// between storing a new autokey and setting keys from it).
pub struct SignalGuard(libc::sigset_t);

impl SignalGuard {
    /// Blocks all signals; `None` if the kernel refused (then nothing changed).
    pub fn block() -> Option<SignalGuard> {
        let mut all = MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigfillset initializes `all`; sigprocmask initializes
        // `old` when it returns 0, and only then is it read.
        unsafe {
            libc::sigfillset(all.as_mut_ptr());
            if libc::sigprocmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr()) != 0 {
                return None;
            }
            Some(SignalGuard(old.assume_init()))
        }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `block`.
        unsafe {
            libc::sigprocmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut());
        }
    }
}
