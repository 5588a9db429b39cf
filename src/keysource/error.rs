//! Why no main key could be had: [`KeyError`], each variant naming its
//! source (never a byte of it). The fix an admin should try is chosen by
//! `crate::error`, which wraps it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::Source;
use super::stdin::PIPE_WAIT;
use crate::fileio::{Kind, os_error};
use crate::keys::MAIN_KEY_LEN;

/// Why no main key could be had. Each names the source, never its bytes.
#[derive(Debug)]
pub enum KeyError {
    /// It could not be opened or read.
    Read {
        /// Which source.
        source: Source,
        /// The OS error.
        why: io::Error,
    },
    /// Not a regular file (or, for standard input, a pipe).
    NotFile {
        /// Which source.
        source: Source,
        /// What it is instead.
        kind: Kind,
    },
    /// Fewer than 32 bytes.
    Short {
        /// Which source.
        source: Source,
        /// How many bytes it had.
        len: usize,
    },
    /// 32 zero bytes: a placeholder, not a secret.
    Zero {
        /// Which source.
        source: Source,
    },
    /// A key file owned by another user, who could have written it.
    Owner {
        /// Which source.
        source: Source,
        /// Its owner's uid.
        owner: u32,
        /// The running user's uid.
        user: u32,
    },
    /// A key file that group or others may write.
    Writable {
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
    /// Standard input gave fewer than 32 bytes within [`PIPE_WAIT`].
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
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Read { source, why } => {
                write!(f, "cannot read {}: {}", source.name(), os_error(why))
            }
            KeyError::NotFile {
                source: Source::Stdin,
                kind,
            } => write!(
                f,
                "standard input is a {}, not a regular file or a pipe",
                kind.name()
            ),
            KeyError::NotFile { source, kind } => write!(
                f,
                "{} is a {}, not a regular file",
                source.name(),
                kind.name()
            ),
            KeyError::Short {
                source: Source::Autokey(path),
                len,
            } => write!(
                f,
                "autokey {} holds {len} bytes, needs {MAIN_KEY_LEN}",
                path.display()
            ),
            KeyError::Short { source, len } => write!(
                f,
                "{} holds {len} bytes, needs at least {MAIN_KEY_LEN}",
                source.name()
            ),
            KeyError::Zero { source } => write!(
                f,
                "{} is {MAIN_KEY_LEN} zero bytes, a placeholder, not a secret",
                source.name()
            ),
            KeyError::Owner {
                source,
                owner,
                user,
            } => write!(
                f,
                "{} is owned by uid {owner}, neither root nor the running user (uid {user}), \
                 who could have written it",
                source.name()
            ),
            KeyError::Writable { source, mode } => write!(
                f,
                "{} has mode {mode:04o}: group or others could have written it",
                source.name()
            ),
            KeyError::AutokeyForeign {
                path,
                owner,
                mode,
                user,
            } => write!(
                f,
                "autokey {} has owner uid {owner} and mode {mode:04o}, but must belong to the \
                 running user (uid {user}) with mode 0600: someone else may know it",
                path.display()
            ),
            KeyError::StdinTimeout { len } => write!(
                f,
                "standard input gave {len} of {MAIN_KEY_LEN} bytes in {} s",
                PIPE_WAIT.as_secs()
            ),
            KeyError::CredentialsDir { path, why } => write!(
                f,
                "CREDENTIALS_DIRECTORY '{}' is not a usable directory: {}",
                path.display(),
                os_error(why)
            ),
            KeyError::Autokey { path, step, why } => write!(
                f,
                "cannot create autokey {} ({step}): {}",
                path.display(),
                os_error(why)
            ),
        }
    }
}
