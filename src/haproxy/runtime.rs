//! The running HAProxy, brought to the set through its admin socket: its
//! ring for the key file is read before any key is derived, then only the
//! keys it lacks are appended and the ring read back, all within one
//! deadline and ended at once by a stop signal.

use std::io;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::api::{Refusal, Shown, catch_up, parse_set, parse_show, set_command, show_command};
use super::error::SocketError;
use super::socket::exchange;
use super::wait::{Bound, Deadline};
use crate::hygiene::StopSignals;
use crate::report::Push;
use crate::tickets::{BASE64_LEN, SET_LEN, TicketSet};

/// The running HAProxy's ring of keys for one file, as read before any
/// key was derived.
pub struct Runtime {
    path: PathBuf,
    file: String,
    ring: Ring,
}

/// What the socket said of the ring.
enum Ring {
    /// The ring in the file's form (three lines of base64).
    Live(Zeroizing<Vec<u8>>),
    /// Nothing listens (no socket, or a stale one): HAProxy is not
    /// running, and reads the file when it starts. At boot, tofurkey runs
    /// before HAProxy.
    NotRunning,
    /// It did not answer in time, or the connection failed after it was
    /// made (a reload under way), or its answer was too long: the push
    /// tries again, the other outputs are written all the same.
    Unread,
    /// HAProxy has no such ring, or one of 48-byte keys: a configuration
    /// that does not (yet) load the file, or loaded another one there. The
    /// file is still written (so that the fix, or a reload, finds it); the
    /// push fails.
    Refused(Refusal),
}

impl Runtime {
    /// Connects to HAProxy's admin socket `path` and reads its ring for
    /// the keys it loaded from `file`. A socket that is not HAProxy's
    /// admin socket, or not served by root or this user, is an error.
    pub fn open(path: &Path, file: &Path) -> Result<Runtime, SocketError> {
        let file = file.to_string_lossy().into_owned();
        // Before the key is read and signals are held: a stop signal ends
        // the run as it would any process.
        let bound = Bound::start(Deadline::Read, None);
        let ring = match exchange(path, show_command(&file).as_bytes(), &bound) {
            Ok(answer) => match parse_show(&answer) {
                Shown::Keys(keys) => {
                    let mut live = Zeroizing::new(Vec::with_capacity(SET_LEN * (BASE64_LEN + 1)));
                    for key in keys {
                        live.extend_from_slice(key);
                        live.push(b'\n');
                    }
                    Ring::Live(live)
                }
                Shown::Refused(r @ (Refusal::UnknownFile | Refusal::OtherKeySize)) => {
                    Ring::Refused(r)
                }
                Shown::Refused(refusal) => {
                    return Err(SocketError::Refused {
                        path: path.to_path_buf(),
                        file,
                        refusal,
                    });
                }
            },
            Err(SocketError::Missing { .. }) => Ring::NotRunning,
            Err(SocketError::Io { why, .. }) if why.kind() == io::ErrorKind::ConnectionRefused => {
                Ring::NotRunning
            }
            Err(
                SocketError::Io { .. } | SocketError::NoAnswer { .. } | SocketError::TooLong { .. },
            ) => Ring::Unread,
            Err(e) => return Err(e),
        };
        Ok(Runtime {
            path: path.to_path_buf(),
            file,
            ring,
        })
    }

    /// The ring as read, in the file's form, for `--check`: `None` if
    /// there is none (HAProxy not running, or no ring for the file).
    pub fn live(&self) -> Option<&[u8]> {
        match &self.ring {
            Ring::Live(live) => Some(live),
            Ring::NotRunning | Ring::Unread | Ring::Refused(_) => None,
        }
    }

    /// Brings the ring to `set`: appends only the keys it lacks (none in
    /// an interval already pushed), then reads it back. The whole push is
    /// bounded by [`Deadline::Push`], and a signal of `stop` (signals are
    /// held meanwhile) ends it at once.
    pub fn push(&self, set: &TicketSet, stop: &StopSignals) -> Result<Push, SocketError> {
        match &self.ring {
            Ring::Live(_) | Ring::Unread => {}
            Ring::NotRunning => return Ok(Push::NotRunning),
            Ring::Refused(refusal) => return Err(self.refused(*refusal)),
        }
        let bound = Bound::start(Deadline::Push, Some(stop));
        let want_keys = set.keys.each_ref().map(|k| k.haproxy_base64());
        let want: [&[u8]; SET_LEN] = want_keys.each_ref().map(|k| &k[..]);
        // The ring as it is now, not as open() read it: the file was written
        // since, and a HAProxy reloaded meanwhile already holds it (pushing
        // on the old reading would overshoot).
        let answer = exchange(&self.path, show_command(&self.file).as_bytes(), &bound)?;
        let live = match parse_show(&answer) {
            Shown::Keys(live) => live,
            Shown::Refused(refusal) => return Err(self.refused(refusal)),
        };
        let send = catch_up(&live, &want);
        let foreign = !live.iter().any(|l| want.contains(l));
        for key in &want_keys[SET_LEN - send.len()..] {
            let answer = exchange(&self.path, &set_command(&self.file, key), &bound)?;
            parse_set(&answer).map_err(|refusal| self.refused(refusal))?;
        }
        if !send.is_empty() {
            let answer = exchange(&self.path, show_command(&self.file).as_bytes(), &bound)?;
            match parse_show(&answer) {
                Shown::Keys(now) if now == want => {}
                Shown::Keys(_) => {
                    return Err(SocketError::NotInSync {
                        path: self.path.clone(),
                        file: self.file.clone(),
                    });
                }
                Shown::Refused(refusal) => return Err(self.refused(refusal)),
            }
        }
        Ok(Push::Keys {
            count: send.len(),
            foreign,
        })
    }

    /// The socket's path and the file, for messages.
    pub fn describe(&self) -> String {
        format!("running HAProxy ({}, {})", self.path.display(), self.file)
    }

    fn refused(&self, refusal: Refusal) -> SocketError {
        SocketError::Refused {
            path: self.path.clone(),
            file: self.file.clone(),
            refusal,
        }
    }
}

#[cfg(test)]
mod tests;
