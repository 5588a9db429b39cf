//! The one error type. Each variant carries what failed, where, and why;
//! it is rendered once, at the edge (`main.rs`), as a single line.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can stop a run.
#[derive(Debug)]
pub enum Error {
    /// Bad command line: rendered with the usage text, exit 2.
    Usage(String),
    /// An interval that is odd or out of range.
    BadInterval(u64),
    /// A time (`-T` or the clock) outside the accepted range.
    BadTime(u64),
    /// The system clock could not be read or is before the epoch.
    Clock,
    /// A main key source could not be opened or read.
    KeyRead {
        /// "main key file", "credential", "autokey".
        what: &'static str,
        /// Which file.
        path: PathBuf,
        /// The OS error.
        why: io::Error,
    },
    /// A main key source is not a regular file (directory, FIFO, device…).
    KeyNotFile {
        /// "main key file", "credential", "autokey".
        what: &'static str,
        /// Which file.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// A main key source holds fewer than 32 bytes.
    KeyShort {
        /// "main key file", "credential".
        what: &'static str,
        /// Which file.
        path: PathBuf,
        /// How many bytes it had.
        len: usize,
    },
    /// A new autokey could not be made or stored.
    Autokey {
        /// Which file.
        path: PathBuf,
        /// The step that failed.
        step: &'static str,
        /// The OS error.
        why: io::Error,
    },
    /// The target (procfs file or `-P`) could not be opened, written or read.
    Target {
        /// Which file.
        path: PathBuf,
        /// The step that failed: "open", "write", "read back".
        step: &'static str,
        /// The OS error.
        why: io::Error,
    },
    /// The target accepted the write but reads back something else.
    Mismatch {
        /// Which file.
        path: PathBuf,
        /// A non-secret description of what came back.
        found: String,
    },
    /// `--print-timer` for an interval no handful of calendar lines can express.
    Unexpressible {
        /// The interval asked for.
        interval: u64,
        /// The nearest working interval below, if any.
        below: Option<u64>,
        /// The nearest working interval above, if any.
        above: Option<u64>,
    },
}

impl Error {
    /// The documented exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::BadInterval(_) | Error::Unexpressible { .. } => 2,
            _ => 1,
        }
    }
}

fn os(why: &io::Error) -> String {
    // io::Error's Display appends "(os error N)"; the name of the errno is
    // what an admin searches for, the number adds nothing.
    let s = why.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::BadInterval(i) => write!(
                f,
                "interval {i} is invalid: use an even number of seconds from {} to {}",
                crate::schedule::MIN_INTERVAL,
                crate::schedule::MAX_INTERVAL
            ),
            Error::BadTime(t) => write!(
                f,
                "time {t} is outside {}..{}: set the clock (or -T) to a real unix time",
                crate::schedule::MIN_TIME,
                crate::schedule::MAX_TIME
            ),
            Error::Clock => write!(f, "cannot read the system clock: fix the clock"),
            Error::KeyRead { what, path, why } => write!(
                f,
                "cannot read {what} {}: {}: check the path and its permissions",
                path.display(),
                os(why)
            ),
            Error::KeyNotFile { what, path, kind } => write!(
                f,
                "{what} {} is a {kind}, not a regular file: point it at a file of 32 bytes",
                path.display()
            ),
            Error::KeyShort { what, path, len } => write!(
                f,
                "{what} {} holds {len} bytes, needs at least 32: make one with \
                 'dd if=/dev/random of=FILE bs=32 count=1'",
                path.display()
            ),
            Error::Autokey { path, step, why } => write!(
                f,
                "cannot create autokey {} ({step}): {}: make its directory exist and be writable, \
                 or use -a PATH or -k PATH",
                path.display(),
                os(why)
            ),
            Error::Target { path, step, why } => write!(
                f,
                "cannot {step} {}: {}: run as root (or with CAP_NET_ADMIN), or check -P",
                path.display(),
                os(why)
            ),
            Error::Mismatch { path, found } => {
                // A single key back is what kernels before 5.3 keep.
                let fix = if found == "a single key" {
                    "a kernel that keeps both keys (Linux 5.3 or later) is needed"
                } else {
                    "check that nothing else writes it and that it keeps what is written"
                };
                write!(
                    f,
                    "{} reads back {found} after the write: {fix}",
                    path.display()
                )
            }
            Error::Unexpressible {
                interval,
                below,
                above,
            } => {
                write!(
                    f,
                    "interval {interval}: no list of at most {} OnCalendar= lines hits its \
                     half-interval boundaries (they must repeat daily or weekly in a short pattern)",
                    crate::calendar::MAX_EVENTS
                )?;
                match (below, above) {
                    (Some(b), Some(a)) => write!(f, "; nearest intervals that work: {b} and {a}"),
                    (Some(x), None) | (None, Some(x)) => {
                        write!(f, "; nearest interval that works: {x}")
                    }
                    (None, None) => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for Error {}
