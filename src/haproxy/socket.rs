//! One request over HAProxy's admin socket, to a listener that is trusted:
//! the socket's directory is closed to other users, and the socket and its
//! server are root's or the running user's, so that nobody else can
//! receive the keys. One command, one connection, every wait within a
//! [`Bound`].

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::poll::PollFlags;
use nix::sys::socket::sockopt::PeerCredentials;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, getsockopt, socket};
use nix::sys::stat::Mode;
use zeroize::Zeroizing;

use super::error::{SocketError, Step};
use super::wait::{Bound, Cut};
use crate::dirpath::{self, Ancestors};
use crate::fileio::{Kind, dir_of, openat, trusted_owner};

/// The longest answer read: `show tls-keys FILE` is under 500 bytes.
pub(super) const ANSWER_MAX: usize = 4096;
/// The permission bit that lets others (not the group: Debian's
/// /run/haproxy is haproxy's, group-writable) write the socket's directory.
const OTHERS_WRITE: u32 = 0o002;

/// One command, one connection: HAProxy's non-interactive mode answers
/// and closes. Every wait, from the connect to the answer's last byte, is
/// within `bound`.
pub(super) fn exchange(
    path: &Path,
    command: &[u8],
    bound: &Bound,
) -> Result<Zeroizing<Vec<u8>>, SocketError> {
    let io = |step| {
        move |why| SocketError::Io {
            path: path.to_path_buf(),
            step,
            why,
        }
    };
    let cut = |step| {
        move |cut| match cut {
            Cut::Late => SocketError::NoAnswer {
                path: path.to_path_buf(),
                deadline: bound.deadline,
            },
            Cut::Stopped(signal) => SocketError::Stopped {
                path: path.to_path_buf(),
                signal,
            },
            Cut::Failed(why) => io(step)(why),
        }
    };
    let mut stream = connect_trusted(path)?;
    let mut sent = 0;
    while sent < command.len() {
        bound
            .wait(stream.as_fd(), PollFlags::POLLOUT)
            .map_err(cut(Step::Send))?;
        match stream.write(&command[sent..]) {
            Ok(n) => sent += n,
            Err(e) if retry(&e) => {}
            Err(e) => return Err(io(Step::Send)(e)),
        }
    }
    // Done sending: HAProxy answers the one command and closes.
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Zeroizing::new(vec![0u8; ANSWER_MAX + 1]);
    let mut len = 0;
    loop {
        bound
            .wait(stream.as_fd(), PollFlags::POLLIN)
            .map_err(cut(Step::Read))?;
        match stream.read(&mut answer[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if retry(&e) => {}
            Err(e) => return Err(io(Step::Read)(e)),
        }
        if len > ANSWER_MAX {
            return Err(SocketError::TooLong {
                path: path.to_path_buf(),
            });
        }
    }
    answer.truncate(len);
    Ok(answer)
}

/// A non-blocking read or write to try again after the next wait.
fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Connects, without blocking, to the socket at `path` if nobody else can
/// receive what is sent: its directory is closed to other users (or
/// sticky), the socket is root's or ours, and so is its listener. The
/// socket is reached through handles, never by its path again, so that
/// nobody can put a listener of their own, or a link, in its place between
/// the checks and the connect. (Debian's /run/haproxy is haproxy's,
/// group-writable: who can write it can read the keys through the admin
/// socket anyway.)
fn connect_trusted(path: &Path) -> Result<UnixStream, SocketError> {
    let io = |step| {
        move |why| SocketError::Io {
            path: path.to_path_buf(),
            step,
            why,
        }
    };
    let missing = || SocketError::Missing {
        path: path.to_path_buf(),
    };
    let name = path.file_name().ok_or(SocketError::NotSocket {
        path: path.to_path_buf(),
        what: Some(Kind::Directory),
    })?;
    let dir = open_dir(path)?;
    let mode = dir.metadata().map_err(io(Step::InspectDirectory))?.mode();
    if mode & OTHERS_WRITE != 0 && mode & libc::S_ISVTX == 0 {
        return Err(SocketError::OpenDirectory {
            path: path.to_path_buf(),
            mode,
        });
    }
    // The socket itself, as a handle that cannot be swapped: its type and
    // owner are read from it, and the connect goes through it.
    let handle = match openat(
        &dir,
        Path::new(name),
        OFlag::O_PATH | OFlag::O_NOFOLLOW,
        Mode::empty(),
    ) {
        Ok(handle) => handle,
        Err(why) if why.kind() == io::ErrorKind::NotFound => return Err(missing()),
        Err(why) => return Err(io(Step::Open)(why)),
    };
    let meta = handle.metadata().map_err(io(Step::Inspect))?;
    match Kind::of_mode(meta.mode()) {
        Some(Kind::Socket) => {}
        kind => {
            return Err(SocketError::NotSocket {
                path: path.to_path_buf(),
                what: kind,
            });
        }
    }
    if !trusted_owner(meta.uid()) {
        return Err(SocketError::ForeignSocket {
            path: path.to_path_buf(),
            uid: meta.uid(),
        });
    }
    // Always short, whatever the path's length: the socket's own path may
    // fill sun_path (107 bytes), which the directory's fd and the name
    // would not fit in.
    let via_handle = format!("/proc/self/fd/{}", handle.as_raw_fd());
    // Non-blocking: a listener whose backlog is full fails the connect
    // (EAGAIN) instead of holding the run for as long as it likes.
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(|e| io(Step::MakeSocket)(e.into()))?;
    let addr = UnixAddr::new(via_handle.as_str()).map_err(|e| io(Step::Connect)(e.into()))?;
    connect(fd.as_raw_fd(), &addr).map_err(|e| io(Step::Connect)(e.into()))?;
    let peer = getsockopt(&fd, PeerCredentials).map_err(|e| io(Step::IdentifyServer)(e.into()))?;
    if !trusted_owner(peer.uid()) {
        return Err(SocketError::ForeignServer {
            path: path.to_path_buf(),
            uid: peer.uid(),
        });
    }
    Ok(UnixStream::from(fd))
}

/// Opens the directory the socket at `path` is in, as a handle to reach
/// the socket through (`O_PATH`: nothing is read from it), from `/`
/// without following a link, every directory on the way root's or ours and
/// closed to others (or sticky): whoever could rename one could put a
/// listener of their own at the path. A directory missing on the way is
/// HAProxy not running (at boot, before it made its run directory).
fn open_dir(path: &Path) -> Result<File, SocketError> {
    dirpath::open_dir(dir_of(path), Ancestors::Trusted).map_err(|error| match error.is_missing() {
        true => SocketError::Missing {
            path: path.to_path_buf(),
        },
        false => SocketError::Path {
            path: path.to_path_buf(),
            error,
        },
    })
}
