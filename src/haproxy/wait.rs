//! Waiting on HAProxy's socket: every wait of an exchange (or of a whole
//! push) ends at one deadline, or, while signals are held, at once when a
//! stop signal comes.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use crate::hygiene::StopSignals;

/// How long the read of the ring before the key is read may take, from
/// connect to its last byte: a HAProxy (or whatever listens there) that
/// stalls cannot hold a run, and the timer's next tick, for longer.
const READ_WAIT: Duration = Duration::from_secs(5);
/// How long the push may take as a whole, from its first connect to its
/// last answer (up to five exchanges): well inside the unit's 30 s
/// TimeoutStartSec=, so that a slow HAProxy fails the push, not the run.
const PUSH_WAIT: Duration = Duration::from_secs(10);

/// Which deadline bounds the waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// The read of the ring before the key is read: [`READ_WAIT`].
    Read,
    /// The whole push: [`PUSH_WAIT`].
    Push,
}

impl Deadline {
    /// How long it allows.
    pub fn span(self) -> Duration {
        match self {
            Deadline::Read => READ_WAIT,
            Deadline::Push => PUSH_WAIT,
        }
    }
}

/// Why a wait ended before its socket was ready.
#[derive(Debug)]
pub(super) enum Cut {
    /// The deadline passed.
    Late,
    /// A stop signal came (and was taken: it will not be delivered).
    Stopped(Signal),
    /// poll(2) failed.
    Failed(io::Error),
}

/// The bound of every wait from its start: a deadline and, while signals
/// are held, the stop signals.
pub(super) struct Bound<'a> {
    /// Which deadline, for messages.
    pub(super) deadline: Deadline,
    at: Instant,
    stop: Option<&'a StopSignals>,
}

impl<'a> Bound<'a> {
    /// `deadline` from now; `stop` ends any wait early.
    pub(super) fn start(deadline: Deadline, stop: Option<&'a StopSignals>) -> Bound<'a> {
        Bound {
            deadline,
            at: Instant::now() + deadline.span(),
            stop,
        }
    }

    /// Waits until `fd` is ready for `events` (or in error, or hung up:
    /// the read or write that follows says which). A stop signal wins over
    /// a ready socket: whoever sent it wants the run to end now.
    pub(super) fn wait(&self, fd: BorrowedFd<'_>, events: PollFlags) -> Result<(), Cut> {
        loop {
            let left = self.at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Cut::Late);
            }
            // Rounded up: a timeout rounded down to 0 ms would spin.
            let ms = left.as_micros().div_ceil(1000);
            let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
            let mut fds = vec![PollFd::new(fd, events)];
            if let Some(stop) = self.stop {
                fds.push(PollFd::new(stop.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(Cut::Failed(e.into())),
            }
            if let Some(signal) = self.stop.and_then(StopSignals::take) {
                return Err(Cut::Stopped(signal));
            }
            if fds[0].any() == Some(true) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    use super::*;

    #[test]
    fn a_ready_socket_is_no_wait_and_a_silent_one_is_late() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let bound = Bound::start(Deadline::Read, None);
        // Writable at once.
        assert!(bound.wait(ours.as_fd(), PollFlags::POLLOUT).is_ok());
        // Nothing to read: late once the deadline has passed.
        let passed = Bound {
            at: Instant::now(),
            ..bound
        };
        assert!(matches!(
            passed.wait(ours.as_fd(), PollFlags::POLLIN),
            Err(Cut::Late)
        ));
        drop(theirs);
        // The peer gone: ready (the read says it ended).
        assert!(bound.wait(ours.as_fd(), PollFlags::POLLIN).is_ok());
    }

    #[test]
    fn the_deadlines() {
        assert_eq!(Deadline::Read.span(), Duration::from_secs(5));
        assert_eq!(Deadline::Push.span(), Duration::from_secs(10));
    }
}
