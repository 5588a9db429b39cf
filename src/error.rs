//! The edge error: what can stop a run, wrapping each module's own error,
//! with the exit code and the fix an admin should try. Rendered once, at
//! the edge (`main.rs`), as one line: `<what, which path, why>: <the fix>`.

use std::fmt;
use std::io;

use crate::calendar::Unexpressible;
use crate::cli::UsageError;
use crate::clock::ClockError;
use crate::counters::BadTime;
use crate::fileio::os_error;
use crate::haproxy::{Refusal, SocketError};
use crate::keydir::DirError;
use crate::keys::Form;
use crate::keysource::{KeyError, Source};
use crate::outputs::OutputError;
use crate::procfs::{Step, TargetError};
use crate::promfile::MetricsError;

/// The command to make a main key, as the fixes name it.
const MAKE_KEY: &str = "make a key with '(umask 077; head -c 32 /dev/random > FILE)'";

/// Everything that can stop a run.
#[derive(Debug)]
pub enum Error {
    /// Bad command line: printed with the usage text, exit 2.
    Usage(UsageError),
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
    /// The keys were set, but the metrics file could not be written.
    Metrics(MetricsError),
    /// Several outputs failed (each is tried whatever became of the others).
    Outputs(Vec<Error>),
    /// Signals could not be held while key material is in memory.
    SignalMask(io::Error),
    /// Standard output (`--version`, `--help`, `--print-timer`) could not
    /// be written.
    Output(io::Error),
}

impl Error {
    /// The documented exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Timer(_) => 2,
            _ => 1,
        }
    }

    /// What the admin should do about it.
    fn fix(&self) -> Option<&'static str> {
        Some(match self {
            // Their own messages say what would work.
            Error::Usage(_) | Error::Timer(_) | Error::Output(_) | Error::Outputs(_) => {
                return None;
            }
            Error::Time(_) => "set the clock (or -T) to a real unix time",
            Error::Clock => "fix the clock",
            Error::Key(e) => match e {
                KeyError::Read { .. } => "check the path and its permissions",
                KeyError::NotFile {
                    source: Source::Stdin,
                    ..
                } => "pipe the key in ('tofurkey -k - < FILE')",
                KeyError::StdinTimeout { .. } => "pipe the whole key in ('tofurkey -k - < FILE')",
                // An autokey is ours to make: whatever else is there goes.
                KeyError::NotFile {
                    source: Source::Autokey(_),
                    ..
                }
                | KeyError::Short {
                    source: Source::Autokey(_),
                    ..
                }
                | KeyError::Zero {
                    source: Source::Autokey(_),
                } => "remove it, and the next run makes a new one",
                KeyError::NotFile { .. } => "point it at a file of 32 bytes",
                KeyError::Short { .. } | KeyError::Zero { .. } => MAKE_KEY,
                KeyError::Owner { .. } => "make root its owner ('chown root: FILE')",
                KeyError::Writable { .. } => "'chmod go-w FILE', and check its contents",
                // Root's own, as the service makes it: not for other users.
                KeyError::AutokeyForeign { owner: 0, mode, .. } if mode & 0o077 == 0 => {
                    "it is root's: run as root, or use -a PATH for one of your own"
                }
                KeyError::AutokeyForeign { .. } => {
                    "remove it (the next run makes a new one), or use -a PATH in a directory \
                     only you can write"
                }
                KeyError::CredentialsDir { .. } => {
                    "fix the unit's credentials, or unset the variable for a manual run"
                }
                KeyError::Autokey { .. } => {
                    "make its directory exist and be writable, or use -a PATH or -k PATH"
                }
            },
            Error::Target(e) => match e {
                TargetError::Io { why, .. } if why.kind() == io::ErrorKind::PermissionDenied => {
                    "run as root (or with CAP_NET_ADMIN), or check -P"
                }
                TargetError::Io {
                    step: Step::Open,
                    why,
                    ..
                } if why.kind() == io::ErrorKind::NotFound => {
                    "check -P, or that this kernel (and network namespace) has TCP Fast Open"
                }
                TargetError::Io { why, .. } if why.kind() == io::ErrorKind::InvalidInput => {
                    "the kernel refused the text: check -P"
                }
                TargetError::Io { why, .. }
                    if matches!(
                        why.kind(),
                        io::ErrorKind::StorageFull | io::ErrorKind::FileTooLarge
                    ) =>
                {
                    "make room (or raise the file size limit), or check -P"
                }
                TargetError::Io { .. } => "check -P",
                TargetError::NotFile { .. } | TargetError::TooLarge { .. } => "check -P",
                // A single key back is what kernels before 5.3 keep.
                TargetError::Mismatch {
                    found: Form::Key, ..
                } => "a kernel that keeps both keys (Linux 5.3 or later) is needed",
                TargetError::Mismatch { .. } => {
                    "check that nothing else writes it and that it keeps what is written"
                }
            },
            Error::Tickets(e) => match e {
                DirError::Open { why, .. } if why.kind() == io::ErrorKind::NotFound => {
                    "make it on tmpfs ('install -d -m 0700 DIR'); tofurkey.service makes \
                     /run/tofurkey"
                }
                DirError::Open { why, .. } | DirError::Io { why, .. }
                    if why.kind() == io::ErrorKind::PermissionDenied =>
                {
                    "run as root, or give a directory you own"
                }
                DirError::Open { .. } => "check the path and its permissions",
                DirError::Symlink { .. } => "give the real directory, not a link to it",
                DirError::NotDirectory { .. } => "give a directory",
                DirError::NotTmpfs { .. } => "use a directory under /run",
                DirError::Untrusted { .. } => "'chown root: DIR; chmod go-w DIR'",
                DirError::NotFilePath { .. } => "give the path of a file in the directory",
                DirError::NotFile { .. } => "remove it: tofurkey puts a regular file there",
                DirError::Io { .. } => "check the directory and the space left in it",
            },
            Error::Haproxy(e) => match e {
                SocketError::Missing { .. } => {
                    "start HAProxy, or give the path of its 'stats socket ... level admin'"
                }
                SocketError::NotSocket { .. } => "give the path of HAProxy's 'stats socket'",
                SocketError::Untrusted { .. } => {
                    "HAProxy makes its socket as root: find out who made this one"
                }
                SocketError::Io { why, .. } if why.kind() == io::ErrorKind::ConnectionRefused => {
                    "nothing listens: start HAProxy"
                }
                SocketError::Io { why, .. } if why.kind() == io::ErrorKind::PermissionDenied => {
                    "run as root"
                }
                SocketError::Io { .. } => "check HAProxy and its socket",
                SocketError::NoAnswer { .. } => {
                    "check that the socket answers: echo 'show info' | socat stdio PATH"
                }
                SocketError::Refused { refusal, .. } => match refusal {
                    Refusal::Denied => "add 'level admin' to its 'stats socket' line",
                    Refusal::UnknownFile => {
                        "make a 'tls-ticket-keys' in haproxy.cfg name exactly this file, and \
                         reload HAProxy"
                    }
                    Refusal::OtherKeySize => "reload HAProxy: it loads the file tofurkey wrote",
                    Refusal::NotHaproxy => "give the path of HAProxy's admin socket",
                },
                SocketError::NotInSync { .. } => "check that nothing else sets its ticket keys",
            },
            Error::Metrics(e) => match e.why.kind() {
                io::ErrorKind::NotFound => {
                    "make the directory (node_exporter's textfile directory; Debian's is \
                     /var/lib/prometheus/node-exporter); the keys are set"
                }
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                    "run as root, or let the unit write the directory (ReadWritePaths=); the keys \
                     are set"
                }
                _ => "check the directory; the keys are set",
            },
            Error::SignalMask(_) => "report this as a bug",
        })
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
            Error::Usage(e) => write!(f, "{e}")?,
            Error::Timer(e) => write!(f, "{e}")?,
            Error::Time(e) => write!(f, "{e}")?,
            Error::Clock => f.write_str("cannot read the system clock")?,
            Error::Key(e) => write!(f, "{e}")?,
            Error::Target(e) => write!(f, "{e}")?,
            Error::Tickets(e) => write!(f, "{e}")?,
            Error::Haproxy(e) => write!(f, "{e}")?,
            Error::Metrics(e) => write!(f, "{e}")?,
            Error::Outputs(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}{e}")?;
                }
            }
            Error::SignalMask(why) => write!(
                f,
                "cannot hold signals while the key is in memory: {}",
                os_error(why)
            )?,
            Error::Output(why) => write!(f, "cannot write to standard output: {}", os_error(why))?,
        }
        match self.fix() {
            Some(fix) => write!(f, ": {fix}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

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
}
