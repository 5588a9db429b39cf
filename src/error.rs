//! The edge error: what can stop a run, wrapping each module's own error
//! (which states its message and the fix an admin should try), with the
//! exit code. Rendered once, at the edge (`main.rs`), as one line:
//! `<what, which path, why>: <the fix>`.

use std::borrow::Cow;
use std::fmt;
use std::io;

use nix::sys::signal::Signal;

use crate::calendar::Unexpressible;
use crate::check::{CRITICAL_EXIT, UNKNOWN_EXIT};
use crate::cli::{SEE_HELP, UsageError};
use crate::clock::ClockError;
use crate::config::SettingsError;
use crate::counters::BadTime;
use crate::fileio::os_error;
use crate::haproxy::SocketError;
use crate::hygiene::SignalError;
use crate::keydir::DirError;
use crate::keysource::{KeyError, Source};
use crate::outputs::OutputError;
use crate::procfs::TargetError;
use crate::promfile::MetricsError;
use crate::tipc::TipcError;

/// Everything that can stop a run.
#[derive(Debug)]
pub enum Error {
    /// Bad command line: one line pointing at `--help`, exit 2.
    Usage(UsageError),
    /// A settings file that cannot be used: exit 2, as a bad command line.
    Settings(SettingsError),
    /// `--print-timer` for an interval no handful of calendar lines can hit.
    Timer(Unexpressible),
    /// The system clock is outside the accepted range.
    Time(BadTime),
    /// The system clock could not be read, or is before the epoch.
    Clock,
    /// No main key.
    Key(KeyError),
    /// The target could not be set or read.
    Target(TargetError),
    /// A ticket key output (its directory, a file in it) is unusable or
    /// could not be written.
    Tickets(DirError),
    /// The running HAProxy could not be read or brought to the set.
    Haproxy(SocketError),
    /// TIPC's master key could not be set.
    Tipc(TipcError),
    /// The keys were set, but the metrics file could not be written.
    Metrics(MetricsError),
    /// Several outputs failed (each is tried whatever became of the others).
    Outputs(Vec<Error>),
    /// Outputs failed after the key was read (`failed`: one error, or
    /// [`Error::Outputs`]); the others were set all the same (`set` says
    /// which).
    Partial {
        /// What failed.
        failed: Box<Error>,
        /// What was set, in the entry's words.
        set: String,
    },
    /// A stop signal came while signals were held (and the push, if any,
    /// was not waiting): every output was written first.
    Stopped(Signal),
    /// Signals could not be held while key material is in memory.
    SignalMask(SignalError),
    /// The next main key (this source) is the current one: a rollover to
    /// it would change nothing.
    SameNextKey(Source),
    /// Standard output (`--version`, `--help`, `--print-timer`) could not
    /// be written.
    Output(io::Error),
}

impl Error {
    /// The documented exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Settings(_) | Error::Timer(_) => 2,
            // Everything else, a partial failure included: what fails after
            // the key is read is never a usage error.
            _ => 1,
        }
    }

    /// `--check`'s exit code when this error stops it: CRITICAL for a
    /// main key that every run refuses for what the check sees too (others
    /// can read it, and ticket keys come from it: the keys are not being
    /// set), UNKNOWN (no verdict) for the rest.
    pub fn check_exit(&self) -> u8 {
        match self {
            Error::Key(KeyError::Readable { .. }) => CRITICAL_EXIT,
            _ => UNKNOWN_EXIT,
        }
    }

    /// What the admin should do about it: each module's error states its
    /// own, beside its message.
    fn fix(&self) -> Option<Cow<'static, str>> {
        let fix = match self {
            Error::Key(e) => return e.fix(),
            Error::Settings(e) => e.fix(),
            Error::Timer(e) => e.fix(),
            Error::Target(e) => e.fix(),
            Error::Tickets(e) => e.fix(),
            Error::Haproxy(e) => e.fix(),
            Error::Tipc(e) => e.fix(),
            // Each part says its own; a usage error points at --help.
            Error::Outputs(_) | Error::Partial { .. } | Error::Usage(_) => None,
            Error::Stopped(_) => {
                Some("check what stopped the run (a shutdown, 'systemctl stop', TimeoutStartSec=)")
            }
            Error::Time(e) => e.fix(),
            Error::Clock => ClockError::BeforeEpoch.fix(),
            Error::Metrics(e) => e.fix(),
            Error::SignalMask(e) => e.fix(),
            Error::SameNextKey(_) => {
                Some("give the new main key as the next key, or drop the rollover (NEXT_KEY_AT)")
            }
            // Its message says what failed; no fix.
            Error::Output(_) => None,
        };
        fix.map(Cow::Borrowed)
    }
}

impl Error {
    /// The errors of outputs tried one after the other, as one: `None` if
    /// there were none.
    pub fn combine(mut errors: Vec<Error>) -> Option<Error> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Error::Outputs(errors)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Its message says what would work; the options are in --help.
            Error::Usage(e) => write!(f, "{e}; {SEE_HELP}")?,
            Error::Settings(e) => write!(f, "{e}")?,
            Error::Timer(e) => write!(f, "{e}")?,
            Error::Time(e) => write!(f, "{e}")?,
            Error::Clock => f.write_str("cannot read the system clock")?,
            Error::SameNextKey(source) => write!(
                f,
                "the next main key ({}) is the current main key: a rollover to it changes nothing",
                source.name()
            )?,
            Error::Key(e) => write!(f, "{e}")?,
            Error::Target(e) => write!(f, "{e}")?,
            Error::Tickets(e) => write!(f, "{e}")?,
            Error::Haproxy(e) => write!(f, "{e}")?,
            Error::Tipc(e) => write!(f, "{e}")?,
            Error::Metrics(e) => write!(f, "{e}")?,
            Error::Outputs(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}{e}")?;
                }
            }
            Error::Partial { failed, set } => write!(f, "{failed}; set all the same: {set}")?,
            Error::Stopped(signal) => write!(
                f,
                "stopped by {signal}, which came while signals were held: the run finished its \
                 writes first"
            )?,
            Error::SignalMask(e) => write!(f, "{e}")?,
            Error::Output(why) => write!(f, "cannot write to standard output: {}", os_error(why))?,
        }
        match self.fix() {
            Some(fix) => write!(f, ": {fix}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

impl From<TipcError> for Error {
    fn from(e: TipcError) -> Error {
        Error::Tipc(e)
    }
}

impl From<SettingsError> for Error {
    fn from(e: SettingsError) -> Error {
        Error::Settings(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Error {
        Error::Usage(e)
    }
}

impl From<Unexpressible> for Error {
    fn from(e: Unexpressible) -> Error {
        Error::Timer(e)
    }
}

impl From<ClockError> for Error {
    fn from(e: ClockError) -> Error {
        match e {
            ClockError::BeforeEpoch => Error::Clock,
            ClockError::Range(t) => Error::Time(t),
        }
    }
}

impl From<BadTime> for Error {
    fn from(e: BadTime) -> Error {
        Error::Time(e)
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Error {
        Error::Key(e)
    }
}

impl From<OutputError> for Error {
    fn from(e: OutputError) -> Error {
        match e {
            OutputError::Dir(e) => Error::Tickets(e),
            OutputError::Socket(e) => Error::Haproxy(e),
        }
    }
}

impl From<TargetError> for Error {
    fn from(e: TargetError) -> Error {
        Error::Target(e)
    }
}

#[cfg(test)]
mod tests;
