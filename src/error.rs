//! The one error type. Each variant carries what failed, where, and why;
//! it is rendered once, at the edge (`main.rs`), as a single line.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::fileio::Kind;
use crate::keysource::Source;
use crate::procfs::Kept;

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
        /// Which source.
        source: Source,
        /// The OS error.
        why: io::Error,
    },
    /// A main key source is not a regular file (or, for standard input, a
    /// pipe): a directory, a FIFO, a device…
    KeyNotFile {
        /// Which source.
        source: Source,
        /// What it is instead.
        kind: Kind,
    },
    /// A main key source holds fewer than 32 bytes.
    KeyShort {
        /// Which source.
        source: Source,
        /// How many bytes it had.
        len: usize,
    },
    /// A main key of 32 zero bytes: a placeholder, not a secret.
    KeyZero {
        /// Which source.
        source: Source,
    },
    /// A key file owned by another user, who could have written it.
    KeyOwner {
        /// Which source.
        source: Source,
        /// Its owner's uid.
        owner: u32,
        /// The running user's uid.
        user: u32,
    },
    /// A key file that group or others may write.
    KeyWritable {
        /// Which source.
        source: Source,
        /// Its permission bits.
        mode: u32,
    },
    /// An existing autokey that is not the running user's alone.
    AutokeyForeign {
        /// Which file.
        path: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// Its permission bits.
        mode: u32,
        /// The running user's uid.
        user: u32,
    },
    /// Standard input gave fewer than 32 bytes before the deadline.
    StdinTimeout {
        /// How many bytes came.
        len: usize,
    },
    /// `$CREDENTIALS_DIRECTORY` is set but is not a usable directory.
    CredentialsDir {
        /// Its value.
        path: PathBuf,
        /// Why it cannot be used.
        why: io::Error,
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
        /// The step that failed: "open", "read", "write", "read back".
        step: &'static str,
        /// The OS error.
        why: io::Error,
        /// What the target holds now.
        kept: Kept,
    },
    /// The target is not a regular file (procfs files are).
    TargetNotFile {
        /// Which file.
        path: PathBuf,
        /// What it is instead.
        kind: Kind,
    },
    /// The target holds more than a key file can: it is not one.
    TargetTooLarge {
        /// Which file.
        path: PathBuf,
    },
    /// The target accepted the write but reads back something else.
    Mismatch {
        /// Which file.
        path: PathBuf,
        /// A non-secret description of what came back.
        found: String,
        /// What the target holds now.
        kept: Kept,
    },
    /// Signals could not be held while key material is in memory.
    SignalMask(io::Error),
    /// Standard output (`--version`, `--help`, `--print-timer`) could not
    /// be written.
    Output(io::Error),
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

/// An OS error's text without std's "(os error N)".
pub(crate) fn os(why: &io::Error) -> String {
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
            Error::KeyRead { source, why } => write!(
                f,
                "cannot read {}: {}: check the path and its permissions",
                source.name(),
                os(why)
            ),
            Error::KeyNotFile {
                source: Source::Stdin,
                kind,
            } => write!(
                f,
                "standard input is a {}, not a regular file or a pipe: pipe the key in \
                 ('tofurkey -k - < FILE')",
                kind.name()
            ),
            Error::KeyNotFile { source, kind } => write!(
                f,
                "{} is a {}, not a regular file: point it at a file of 32 bytes",
                source.name(),
                kind.name()
            ),
            Error::KeyShort {
                source: Source::Autokey(path),
                len,
            } => write!(
                f,
                "autokey {} holds {len} bytes, needs 32: remove it, and the next run makes a \
                 new one",
                path.display()
            ),
            Error::KeyShort { source, len } => write!(
                f,
                "{} holds {len} bytes, needs at least 32: make a key with \
                 '(umask 077; head -c 32 /dev/random > FILE)'",
                source.name()
            ),
            Error::KeyZero { source } => write!(
                f,
                "{} is 32 zero bytes, a placeholder, not a secret: make a key with \
                 '(umask 077; head -c 32 /dev/random > FILE)'",
                source.name()
            ),
            Error::KeyOwner {
                source,
                owner,
                user,
            } => write!(
                f,
                "{} is owned by uid {owner}, neither root nor the running user (uid {user}), \
                 who could have written it: make root its owner ('chown root: FILE')",
                source.name()
            ),
            Error::KeyWritable { source, mode } => write!(
                f,
                "{} has mode {mode:04o}: group or others could have written it: \
                 'chmod go-w FILE', and check its contents",
                source.name()
            ),
            Error::AutokeyForeign {
                path,
                owner,
                mode,
                user,
            } => write!(
                f,
                "autokey {} has owner uid {owner} and mode {mode:04o}, but must belong to the \
                 running user (uid {user}) with mode 0600: someone else may know it; remove it \
                 (the next run makes a new one), or use -a PATH in a directory only you can write",
                path.display()
            ),
            Error::StdinTimeout { len } => write!(
                f,
                "standard input gave {len} of 32 bytes in {} s: pipe the whole key in \
                 ('tofurkey -k - < FILE')",
                crate::keysource::PIPE_WAIT.as_secs()
            ),
            Error::CredentialsDir { path, why } => write!(
                f,
                "CREDENTIALS_DIRECTORY '{}' is not a usable directory: {}: fix the unit's \
                 credentials, or unset the variable for a manual run",
                path.display(),
                os(why)
            ),
            Error::Autokey { path, step, why } => write!(
                f,
                "cannot create autokey {} ({step}): {}: make its directory exist and be writable, \
                 or use -a PATH or -k PATH",
                path.display(),
                os(why)
            ),
            Error::Target {
                path,
                step,
                why,
                kept,
            } => write!(
                f,
                "cannot {step} {}: {}{kept}: run as root (or with CAP_NET_ADMIN), or check -P",
                path.display(),
                os(why)
            ),
            Error::TargetNotFile { path, kind } => write!(
                f,
                "target {} is a {}, not a regular or procfs file: check -P",
                path.display(),
                kind.name()
            ),
            Error::TargetTooLarge { path } => write!(
                f,
                "target {} holds more than {} bytes, so it is no key file: check -P",
                path.display(),
                crate::procfs::READ_MAX
            ),
            Error::Mismatch { path, found, kept } => {
                // A single key back is what kernels before 5.3 keep.
                let fix = if found == "a single key" {
                    "a kernel that keeps both keys (Linux 5.3 or later) is needed"
                } else {
                    "check that nothing else writes it and that it keeps what is written"
                };
                write!(
                    f,
                    "{} reads back {found} after the write{kept}: {fix}",
                    path.display()
                )
            }
            Error::SignalMask(why) => write!(
                f,
                "cannot hold signals while the key is in memory: {}: report this as a bug",
                os(why)
            ),
            Error::Output(why) => write!(f, "cannot write to standard output: {}", os(why)),
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
