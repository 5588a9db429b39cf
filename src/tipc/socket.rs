//! The generic netlink socket a run talks to TIPC through, in the run's
//! network namespace, with every wait for the kernel's answer bounded; and
//! that namespace's cookie, which names it for the stamp.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, send,
    socket,
};

use super::error::{Step, TipcError};
use super::netlink::{self, Answer};

/// The longest the kernel may take to answer one request: it answers at
/// once, but for loading the tipc module on the first family lookup.
pub(crate) const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// `SO_NETNS_COOKIE` (`<asm-generic/socket.h>`, Linux 5.14): the network
/// namespace's cookie, never reused while the system runs.
const SO_NETNS_COOKIE: libc::c_int = 71;

/// A generic netlink socket bound in this network namespace.
pub(crate) struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    /// Opens and binds one (the kernel picks its port).
    pub(crate) fn open() -> Result<Socket, TipcError> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkGeneric,
        )
        .map_err(|e| TipcError::Os(Step::Socket, e))?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))
            .map_err(|e| TipcError::Os(Step::Socket, e))?;
        Ok(Socket { fd, seq: 0 })
    }

    /// TIPC's generic netlink family id: its absence is a kernel without
    /// TIPC (the lookup itself loads the module if it can).
    pub(crate) fn tipc_family(&mut self) -> Result<u16, TipcError> {
        let mut buf = [0u8; 32];
        let seq = self.next_seq();
        let len = netlink::get_family(&mut buf, seq);
        let mut family = None;
        for answer in self.exchange(&buf[..len], seq, Step::Family)? {
            match answer {
                Answer::Family(id) => family = Some(id),
                Answer::Error(e) if e == libc::ENOENT => return Err(TipcError::NoTipc),
                Answer::Error(e) => return Err(TipcError::Os(Step::Family, Errno::from_raw(e))),
                Answer::Ack => {}
            }
        }
        family.ok_or(TipcError::Os(Step::Family, Errno::EBADMSG))
    }

    /// Sends `request` (sequence number `seq`) and reads answers until the
    /// kernel acknowledges it or refuses it, within [`ANSWER_WAIT`].
    pub(crate) fn exchange(
        &mut self,
        request: &[u8],
        seq: u32,
        step: Step,
    ) -> Result<Vec<Answer>, TipcError> {
        let sent = send(self.fd.as_raw_fd(), request, MsgFlags::empty())
            .map_err(|e| TipcError::Os(step, e))?;
        if sent != request.len() {
            return Err(TipcError::Os(step, Errno::EMSGSIZE));
        }
        let deadline = Instant::now() + ANSWER_WAIT;
        let mut answers = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(millis)) {
                Ok(0) => return Err(TipcError::NoAnswer(step)),
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(TipcError::Os(step, e)),
            }
            let n = match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(Errno::EINTR | Errno::EAGAIN) => continue,
                Err(e) => return Err(TipcError::Os(step, e)),
            };
            let got = netlink::answers(&buf[..n], seq);
            let done = got
                .iter()
                .any(|a| matches!(a, Answer::Ack | Answer::Error(_)));
            answers.extend(got);
            if done {
                return Ok(answers);
            }
        }
    }

    /// The next sequence number: each request's own.
    pub(crate) fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    /// The cookie of the network namespace the socket lives in (the run's):
    /// unique among the namespaces of this boot, unlike its inode number,
    /// which a namespace made after another is gone may take again. `None`
    /// on kernels before 5.14, which have none.
    pub(crate) fn netns_cookie(&self) -> Result<Option<u64>, TipcError> {
        let mut cookie: u64 = 0;
        let mut len = size_of::<u64>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `cookie`, a
        // u64 that lives across the call, and `len` says its size; the fd
        // is open for as long as `self`. Neither nix nor std offers this
        // option.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_NETNS_COOKIE,
                (&raw mut cookie).cast(),
                &mut len,
            )
        };
        match (r, Errno::last()) {
            (0, _) if len as usize == size_of::<u64>() => Ok(Some(cookie)),
            (0, _) => Err(TipcError::Os(Step::Namespace, Errno::EINVAL)),
            (_, Errno::ENOPROTOOPT) => Ok(None),
            (_, e) => Err(TipcError::Os(Step::Namespace, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sockets of one namespace name it by the same cookie, never 0.
    /// (That another namespace has another is the VM suite's
    /// test_a_namespace_made_again_gets_the_key_again.)
    #[test]
    fn a_namespace_has_one_cookie() {
        let one = Socket::open().unwrap().netns_cookie().unwrap();
        let two = Socket::open().unwrap().netns_cookie().unwrap();
        assert!(one.is_some_and(|c| c != 0), "{one:?}");
        assert_eq!(one, two);
    }

    /// Each request its own sequence number, counting up: an answer is
    /// matched to its request by it.
    #[test]
    fn each_request_its_number() {
        let mut socket = Socket::open().unwrap();
        assert_eq!((socket.next_seq(), socket.next_seq()), (1, 2));
    }
}
