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
            Error::Partial { failed, .. } => failed.exit_code(),
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
mod tests {
    use super::*;
    use crate::keys::Form;
    use crate::keysource::Source;
    use crate::procfs::Step;
    use std::path::PathBuf;

    #[test]
    fn exit_codes() {
        assert_eq!(Error::from(UsageError("x".into())).exit_code(), 2);
        let timer = Unexpressible {
            interval: 22,
            below: None,
            above: None,
        };
        assert_eq!(Error::from(timer).exit_code(), 2);
        assert_eq!(Error::Clock.exit_code(), 1);
        assert_eq!(Error::from(BadTime(5)).exit_code(), 1);
    }

    #[test]
    fn fixes_fit_the_cause() {
        let short = |source| Error::from(KeyError::Short { source, len: 3 }).to_string();
        assert_eq!(
            short(Source::File("/k".into())),
            "main key file /k holds 3 bytes, needs at least 32: make a key with \
             '(umask 077; head -c 32 /dev/random > FILE)'"
        );
        assert_eq!(
            short(Source::Autokey("/a".into())),
            "autokey /a holds 3 bytes, needs 32: remove it, and the next run makes a new one"
        );
        let mismatch = |found| {
            Error::from(TargetError::Mismatch {
                path: PathBuf::from("/t"),
                found,
                kept: crate::procfs::Kept::Restored,
            })
            .to_string()
        };
        assert!(
            mismatch(Form::Key)
                .ends_with(": a kernel that keeps both keys (Linux 5.3 or later) is needed")
        );
        assert!(
            mismatch(Form::Pair)
                .ends_with(": check that nothing else writes it and that it keeps what is written")
        );
        let target = |step, errno| {
            Error::from(TargetError::Io {
                path: PathBuf::from("/t"),
                step,
                why: io::Error::from_raw_os_error(errno),
                kept: crate::procfs::Kept::NotWritten,
            })
            .to_string()
        };
        assert!(
            target(Step::Open, libc::EACCES)
                .ends_with(": run as root (or with CAP_NET_ADMIN), or check -P")
        );
        assert!(target(Step::Open, libc::ENOENT).ends_with("has TCP Fast Open"));
        assert!(
            target(Step::Write, libc::EINVAL).ends_with(": the kernel refused the text: check -P")
        );
        assert!(
            target(Step::Write, libc::EFBIG)
                .ends_with(": make room (or raise the file size limit), or check -P")
        );
        assert!(target(Step::Read, libc::EIO).ends_with("Input/output error: check -P"));
        // Only a missing file at the open points at TCP Fast Open.
        assert!(target(Step::Open, libc::EIO).ends_with("Input/output error: check -P"));
        let foreign = |owner, mode| {
            Error::from(KeyError::AutokeyForeign {
                path: PathBuf::from("/a"),
                owner,
                mode,
                user: 65534,
            })
            .to_string()
        };
        assert!(
            foreign(0, 0o600)
                .ends_with(": it is root's: run as root, or use -a PATH for one of your own")
        );
        assert!(foreign(0, 0o644).ends_with(": remove it (the next run makes a new one), or use -a PATH in a directory only you can write"));
        assert_eq!(
            Error::from(BadTime(5)).to_string(),
            "time 5 is outside 1000000..100000000000: set the clock (or -T) to a real unix time"
        );
    }

    #[test]
    fn every_kind_of_error_ends_with_its_fix_or_its_message() {
        // No fix: the message itself says what would work; a usage error
        // points at --help, on the same line.
        let usage = Error::from(UsageError("invalid option '-x'".into()));
        assert_eq!(
            usage.to_string(),
            "invalid option '-x'; see 'tofurkey --help'"
        );
        let timer = Error::from(Unexpressible {
            interval: 14,
            below: Some(12),
            above: None,
        });
        assert!(
            timer
                .to_string()
                .ends_with("; nearest interval that works: 12")
        );
        let output = Error::Output(io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(
            output.to_string(),
            "cannot write to standard output: No space left on device"
        );
        // A fix each, from the error's own module.
        assert_eq!(
            Error::from(ClockError::BeforeEpoch).to_string(),
            "cannot read the system clock: fix the clock"
        );
        assert!(
            Error::SignalMask(SignalError::Hold(io::Error::from_raw_os_error(
                libc::EINVAL
            )))
            .to_string()
            .ends_with(": Invalid argument: report this as a bug")
        );
        assert_eq!(
            Error::SignalMask(SignalError::Watch(io::Error::from_raw_os_error(
                libc::EMFILE
            )))
            .to_string(),
            "cannot watch for stop signals (signalfd): Too many open files: check the open file \
             limit (LimitNOFILE=, ulimit -n) and memory"
        );
        assert_eq!(
            Error::Stopped(Signal::SIGTERM).to_string(),
            "stopped by SIGTERM, which came while signals were held: the run finished its writes \
             first: check what stopped the run (a shutdown, 'systemctl stop', TimeoutStartSec=)"
        );
        // What failed says its own fix; what was set follows.
        let partial = Error::Partial {
            failed: Box::new(Error::Stopped(Signal::SIGINT)),
            set: "TFO keys".into(),
        };
        assert_eq!(partial.exit_code(), 1);
        assert!(
            partial
                .to_string()
                .ends_with("TimeoutStartSec=); set all the same: TFO keys")
        );
        let metrics = |errno| {
            Error::Metrics(MetricsError::Io {
                path: PathBuf::from("/m/t.prom"),
                step: crate::promfile::Step::RenameIntoPlace,
                why: io::Error::from_raw_os_error(errno),
            })
            .to_string()
        };
        assert!(metrics(libc::ENOENT).ends_with(
            "No such file or directory: make the directory (node_exporter's textfile \
             directory; Debian's is /var/lib/prometheus/node-exporter); the keys are set"
        ));
        assert!(metrics(libc::EACCES).ends_with(
            "Permission denied: run as root, or let the unit write the directory \
             (ReadWritePaths=); the keys are set"
        ));
        assert!(metrics(libc::EIO).ends_with(": check the directory; the keys are set"));
    }
}
