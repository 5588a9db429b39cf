//! Why the running HAProxy could not be read or brought to the set: each
//! error with its fix, and the step of the exchange that failed.

use std::fmt;
use std::io;
use std::path::PathBuf;

use nix::sys::signal::Signal;

use super::api::Refusal;
use super::socket::ANSWER_MAX;
use super::wait::Deadline;
use crate::dirpath::PathError;
use crate::fileio::{Kind, REGULAR_FILE, os_error};

/// Why the running HAProxy could not be read or brought to the set.
#[derive(Debug)]
pub enum SocketError {
    /// Nothing is at the path: HAProxy is not running, or its
    /// configuration names another socket.
    Missing {
        /// The socket's path.
        path: PathBuf,
    },
    /// A directory on the way was refused: a link, `..`, another user's
    /// (see [`crate::dirpath`]).
    Path {
        /// The socket's path.
        path: PathBuf,
        /// Why.
        error: PathError,
    },
    /// The path is not a socket.
    NotSocket {
        /// The socket's path.
        path: PathBuf,
        /// What is there instead: `None` for a regular file.
        what: Option<Kind>,
    },
    /// Others may write the socket's directory (and it is not sticky):
    /// anyone could put a socket of their own in its place.
    OpenDirectory {
        /// The socket's path.
        path: PathBuf,
        /// The directory's permission bits.
        mode: u32,
    },
    /// The socket is neither root's nor the running user's: another user
    /// made it, and could be listening on it.
    ForeignSocket {
        /// The socket's path.
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// Whoever listens there is neither root nor the running user: it
    /// would receive the keys.
    ForeignServer {
        /// The socket's path.
        path: PathBuf,
        /// The listener's uid.
        uid: u32,
    },
    /// Connecting, sending or reading failed.
    Io {
        /// The socket's path.
        path: PathBuf,
        /// What was being done.
        step: Step,
        /// The system's reason.
        why: io::Error,
    },
    /// No complete answer before the deadline.
    NoAnswer {
        /// The socket's path.
        path: PathBuf,
        /// The deadline that passed.
        deadline: Deadline,
    },
    /// An answer longer than any of HAProxy's to these commands.
    TooLong {
        /// The socket's path.
        path: PathBuf,
    },
    /// A stop signal came while the push waited: it was ended there.
    Stopped {
        /// The socket's path.
        path: PathBuf,
        /// The signal.
        signal: Signal,
    },
    /// HAProxy (or what answered) refused, or did not speak its API.
    Refused {
        /// The socket's path.
        path: PathBuf,
        /// The ticket key file named.
        file: String,
        /// Why.
        refusal: Refusal,
    },
    /// HAProxy took every key but its ring is not the set after.
    NotInSync {
        /// The socket's path.
        path: PathBuf,
        /// The ticket key file named.
        file: String,
    },
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketError::Missing { path } => {
                write!(f, "HAProxy socket {}: nothing is there", path.display())
            }
            SocketError::Path { path, error } => {
                write!(f, "HAProxy socket {}: {error}", path.display())
            }
            SocketError::NotSocket { path, what } => {
                write!(
                    f,
                    "HAProxy socket {} is a {}, not a socket",
                    path.display(),
                    what.map_or(REGULAR_FILE, Kind::name)
                )
            }
            SocketError::OpenDirectory { path, mode } => write!(
                f,
                "HAProxy socket {}: its directory (mode {:04o}) can be written by other users",
                path.display(),
                mode & 0o7777
            ),
            SocketError::ForeignSocket { path, uid } => write!(
                f,
                "HAProxy socket {} is owned by uid {uid}, neither root nor this user",
                path.display()
            ),
            SocketError::ForeignServer { path, uid } => write!(
                f,
                "HAProxy socket {} is served by uid {uid}, neither root nor this user",
                path.display()
            ),
            SocketError::Io { path, step, why } => write!(
                f,
                "HAProxy socket {}: cannot {step}: {}",
                path.display(),
                os_error(why)
            ),
            SocketError::NoAnswer {
                path,
                deadline: Deadline::Read,
            } => write!(
                f,
                "HAProxy socket {}: no complete answer within {} s",
                path.display(),
                Deadline::Read.span().as_secs()
            ),
            SocketError::NoAnswer {
                path,
                deadline: Deadline::Push,
            } => write!(
                f,
                "HAProxy socket {}: the push was not done within its {} s deadline",
                path.display(),
                Deadline::Push.span().as_secs()
            ),
            SocketError::TooLong { path } => write!(
                f,
                "HAProxy socket {}: an answer of over {ANSWER_MAX} bytes, not HAProxy's",
                path.display()
            ),
            SocketError::Stopped { path, signal } => write!(
                f,
                "HAProxy socket {}: the push was stopped by {signal}",
                path.display()
            ),
            SocketError::Refused {
                path,
                file,
                refusal,
            } => write!(
                f,
                "HAProxy socket {}, ticket keys {file}: {refusal}",
                path.display()
            ),
            SocketError::NotInSync { path, file } => write!(
                f,
                "HAProxy socket {}, ticket keys {file}: took the keys but does not hold the set",
                path.display()
            ),
        }
    }
}

impl SocketError {
    /// What the admin should do about it (printed after the message).
    pub(crate) fn fix(&self) -> Option<&'static str> {
        Some(match self {
            SocketError::Missing { .. } => {
                "start HAProxy, or give the path of its 'stats socket ... level admin'"
            }
            SocketError::Path { error, .. } => error.fix(),
            SocketError::NotSocket { .. } => "give the path of HAProxy's 'stats socket'",
            SocketError::OpenDirectory { .. } => {
                "let only its owner and group write the directory (chmod o-w), or put the \
                 socket in one that is"
            }
            SocketError::ForeignSocket { .. } => {
                "HAProxy makes its socket as root: find out who made this one"
            }
            SocketError::ForeignServer { .. } => {
                "HAProxy listens as root (it binds before dropping privileges): find out what \
                 listens there"
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
            SocketError::TooLong { .. } => "give the path of HAProxy's admin socket",
            SocketError::Stopped { .. } => {
                "HAProxy keeps the keys it took, and the next run pushes the rest"
            }
            SocketError::Refused { refusal, .. } => return refusal.fix(),
            SocketError::NotInSync { .. } => "check that nothing else sets its ticket keys",
        })
    }
}

/// What was being done with the socket when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Opening the directory it is in.
    OpenDirectory,
    /// Reading the directory's owner and mode.
    InspectDirectory,
    /// Opening the socket itself (`O_PATH`: a handle, not a connection).
    Open,
    /// Reading the socket's type and owner.
    Inspect,
    /// Making the socket to connect with.
    MakeSocket,
    /// Connecting.
    Connect,
    /// Asking who listens.
    IdentifyServer,
    /// Sending the command.
    Send,
    /// Reading the answer.
    Read,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::OpenDirectory => "open its directory",
            Step::InspectDirectory => "inspect its directory",
            Step::Open => "open it",
            Step::Inspect => "inspect it",
            Step::MakeSocket => "make a socket",
            Step::Connect => "connect",
            Step::IdentifyServer => "identify its server",
            Step::Send => "send",
            Step::Read => "read",
        })
    }
}

#[cfg(test)]
mod tests;
