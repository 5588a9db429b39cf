//! HAProxy's ticket keys: the file its `tls-ticket-keys` loads, and the
//! running HAProxy, brought to the same keys through its admin socket.
//!
//! The file holds the set base64, one key per line, oldest first
//! (previous, current, next): HAProxy encrypts with the penultimate line.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::fcntl::AtFlags;
use nix::sys::socket::sockopt::PeerCredentials;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, getsockopt, socket};
use zeroize::Zeroizing;

use crate::fileio::{Kind, dir_of, os_error, trusted_owner};
use crate::keydir::{DirError, KeyDir};
use crate::runtime_api::{
    Refusal, Shown, catch_up, parse_set, parse_show, set_command, show_command,
};
use crate::tickets::{BASE64_LEN, SET_LEN, TicketSet};

/// HAProxy's ticket key file, its directory checked.
pub struct KeyFile {
    dir: Rc<KeyDir>,
    name: String,
    path: PathBuf,
}

impl KeyFile {
    /// Checks the file's directory and the file's name; writes nothing.
    /// The directory is `shared`, already checked, when `path` names it
    /// as it is (the README's layout puts nginx's files beside it): one
    /// check, one fd.
    pub fn open(path: &Path, shared: Option<&Rc<KeyDir>>) -> Result<KeyFile, DirError> {
        let name = match path.file_name().and_then(|n| n.to_str()) {
            Some(n) if !path.as_os_str().as_encoded_bytes().ends_with(b"/") => n.to_string(),
            _ => {
                return Err(DirError::NotFilePath {
                    path: path.to_path_buf(),
                });
            }
        };
        let dir = match (dir_of(path), shared) {
            (dir, Some(shared)) if dir == shared.path() => Rc::clone(shared),
            (dir, _) => Rc::new(KeyDir::open(dir)?),
        };
        dir.check(&name)?;
        Ok(KeyFile {
            dir,
            name,
            path: path.to_path_buf(),
        })
    }

    /// The file's path as given: HAProxy's name for the keys it loaded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Puts `set` in place (if the file does not hold it already); returns
    /// whether it was replaced.
    pub fn write(&self, set: &TicketSet) -> Result<bool, DirError> {
        let text = set.haproxy_file();
        Ok(self.dir.replace(&[(&self.name, &text[..])])? > 0)
    }

    /// Reads the file, for `--check`; `None` if it is missing.
    pub fn read(&self) -> Result<Option<Zeroizing<Vec<u8>>>, DirError> {
        self.dir.read(&self.name)
    }
}

/// How long one exchange with HAProxy may take, from connect to its last
/// byte: a HAProxy (or whatever listens there) that stalls cannot hold a
/// run, and the timer's next tick, for longer.
pub const SOCKET_WAIT: Duration = Duration::from_secs(5);
/// The longest answer read: `show tls-keys FILE` is under 500 bytes.
const ANSWER_MAX: usize = 4096;

/// Why the running HAProxy could not be read or brought to the set.
#[derive(Debug)]
pub enum SocketError {
    /// Nothing is at the path: HAProxy is not running, or its
    /// configuration names another socket.
    Missing {
        /// The socket's path.
        path: PathBuf,
    },
    /// The path is not a socket.
    NotSocket {
        /// The socket's path.
        path: PathBuf,
        /// What is there instead.
        what: &'static str,
    },
    /// Whoever listens there is neither root nor the running user: a socket
    /// another user planted would receive the keys.
    Untrusted {
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
        step: &'static str,
        /// The system's reason.
        why: io::Error,
    },
    /// No complete answer within [`SOCKET_WAIT`], or one too long.
    NoAnswer {
        /// The socket's path.
        path: PathBuf,
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
            SocketError::NotSocket { path, what } => {
                write!(
                    f,
                    "HAProxy socket {} is a {what}, not a socket",
                    path.display()
                )
            }
            SocketError::Untrusted { path, uid } => write!(
                f,
                "HAProxy socket {}: it, its directory or its server is uid {uid}'s, neither root's \
                 nor this user's, or the directory is open to others",
                path.display()
            ),
            SocketError::Io { path, step, why } => write!(
                f,
                "HAProxy socket {}: cannot {step}: {}",
                path.display(),
                os_error(why)
            ),
            SocketError::NoAnswer { path } => write!(
                f,
                "HAProxy socket {}: no complete answer within {} s",
                path.display(),
                SOCKET_WAIT.as_secs()
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
    /// made (a reload under way): the push tries again, the other outputs
    /// are written all the same.
    Unread,
    /// HAProxy has no such ring, or one of 48-byte keys: a configuration
    /// that does not (yet) load the file, or loaded another one there. The
    /// file is still written (so that the fix, or a reload, finds it); the
    /// push fails.
    Refused(Refusal),
}

/// What a push did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// HAProxy is not running: nothing to push (it reads the file when it
    /// starts).
    NotRunning,
    /// Keys appended to the ring (0: it held the set already).
    Keys {
        /// How many.
        count: usize,
        /// The ring held none of the set's keys: keys of another main key
        /// or tool (or three rotations missed), all replaced.
        foreign: bool,
    },
}

impl Runtime {
    /// Connects to HAProxy's admin socket `path` and reads its ring for
    /// the keys it loaded from `file`. A socket that is not HAProxy's
    /// admin socket, or not served by root or this user, is an error.
    pub fn open(path: &Path, file: &Path) -> Result<Runtime, SocketError> {
        let file = file.to_string_lossy().into_owned();
        let ring = match exchange(path, show_command(&file).as_bytes()) {
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
            Err(SocketError::Io { .. } | SocketError::NoAnswer { .. }) => Ring::Unread,
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
    /// an interval already pushed), then reads it back.
    pub fn push(&self, set: &TicketSet) -> Result<Pushed, SocketError> {
        match &self.ring {
            Ring::Live(_) | Ring::Unread => {}
            Ring::NotRunning => return Ok(Pushed::NotRunning),
            Ring::Refused(refusal) => return Err(self.refused(*refusal)),
        }
        let want_keys = set.keys.each_ref().map(|k| k.haproxy_base64());
        let want: [&[u8]; SET_LEN] = want_keys.each_ref().map(|k| &k[..]);
        // The ring as it is now, not as open() read it: the file was written
        // since, and a HAProxy reloaded meanwhile already holds it (pushing
        // on the old reading would overshoot).
        let answer = exchange(&self.path, show_command(&self.file).as_bytes())?;
        let live = match parse_show(&answer) {
            Shown::Keys(live) => live,
            Shown::Refused(refusal) => return Err(self.refused(refusal)),
        };
        let send = catch_up(&live, &want);
        let foreign = !live.iter().any(|l| want.contains(l));
        for key in &want_keys[SET_LEN - send.len()..] {
            let answer = exchange(&self.path, &set_command(&self.file, key))?;
            parse_set(&answer).map_err(|refusal| self.refused(refusal))?;
        }
        if !send.is_empty() {
            let answer = exchange(&self.path, show_command(&self.file).as_bytes())?;
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
        Ok(Pushed::Keys {
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

/// One command, one connection: HAProxy's non-interactive mode answers
/// and closes. The whole exchange is bounded by [`SOCKET_WAIT`].
fn exchange(path: &Path, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, SocketError> {
    let deadline = Instant::now() + SOCKET_WAIT;
    let io = |step, why| SocketError::Io {
        path: path.to_path_buf(),
        step,
        why,
    };
    let no_answer = || SocketError::NoAnswer {
        path: path.to_path_buf(),
    };
    // The socket is reached through its directory's fd, never by its path
    // again: the directory must be closed to other users (or sticky), the
    // socket root's or ours, and its listener root's or ours (below), so
    // that nobody else can put a listener of their own, or a link, where the
    // keys go. (Debian's /run/haproxy is haproxy's, group-writable: who can
    // write it can read the keys through the admin socket anyway.)
    let name = path.file_name().ok_or(SocketError::NotSocket {
        path: path.to_path_buf(),
        what: "directory",
    })?;
    let parent = dir_of(path);
    let dir = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(parent)
    {
        Ok(dir) => dir,
        Err(why) if why.kind() == io::ErrorKind::NotFound => {
            return Err(SocketError::Missing {
                path: path.to_path_buf(),
            });
        }
        Err(why) => return Err(io("open its directory", why)),
    };
    let meta = dir.metadata().map_err(|e| io("inspect its directory", e))?;
    let sticky = meta.mode() & libc::S_ISVTX != 0;
    if meta.mode() & 0o002 != 0 && !sticky {
        return Err(SocketError::Untrusted {
            path: path.to_path_buf(),
            uid: meta.uid(),
        });
    }
    let st =
        match nix::sys::stat::fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(nix::errno::Errno::ENOENT) => {
                return Err(SocketError::Missing {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(io("inspect it", e.into())),
        };
    match Kind::of_mode(st.st_mode) {
        Some(Kind::Socket) => {}
        kind => {
            return Err(SocketError::NotSocket {
                path: path.to_path_buf(),
                what: kind.map_or("regular file", Kind::name),
            });
        }
    }
    if !trusted_owner(st.st_uid) {
        return Err(SocketError::Untrusted {
            path: path.to_path_buf(),
            uid: st.st_uid,
        });
    }
    let mut via_fd = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    via_fd.push(name);
    // Non-blocking connect: a listener whose backlog is full would
    // otherwise hold the run for as long as it likes.
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(|e| io("make a socket", e.into()))?;
    let addr = UnixAddr::new(&via_fd).map_err(|e| io("connect", e.into()))?;
    connect(fd.as_raw_fd(), &addr).map_err(|e| io("connect", e.into()))?;
    let peer = getsockopt(&fd, PeerCredentials).map_err(|e| io("identify its server", e.into()))?;
    let uid = peer.uid();
    if !trusted_owner(uid) {
        return Err(SocketError::Untrusted {
            path: path.to_path_buf(),
            uid,
        });
    }
    let mut stream = UnixStream::from(fd);
    stream
        .set_nonblocking(false)
        .map_err(|e| io("connect", e))?;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    };
    let timed_out = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    };
    // A deadline already passed is no answer (a None timeout would block).
    let wait = left().ok_or_else(no_answer)?;
    stream
        .set_write_timeout(Some(wait))
        .map_err(|e| io("send", e))?;
    match stream.write_all(command) {
        Ok(()) => {}
        Err(e) if timed_out(&e) => return Err(no_answer()),
        Err(e) => return Err(io("send", e)),
    }
    // Done sending: HAProxy answers the one command and closes.
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Zeroizing::new(vec![0u8; ANSWER_MAX + 1]);
    let mut len = 0;
    loop {
        let wait = left().ok_or_else(no_answer)?;
        stream
            .set_read_timeout(Some(wait))
            .map_err(|e| io("read", e))?;
        match stream.read(&mut answer[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if timed_out(&e) => return Err(no_answer()),
            Err(e) => return Err(io("read", e)),
        }
        if len > ANSWER_MAX {
            return Err(no_answer());
        }
    }
    answer.truncate(len);
    Ok(answer)
}
