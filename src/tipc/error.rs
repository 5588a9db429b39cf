//! Why TIPC's master key could not be set: each error with its fix. Never
//! a byte of the key.

use std::fmt;
use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

use super::socket::ANSWER_WAIT;
use crate::dirpath::PathError;
use crate::fileio::os_error;

/// What was being done with the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Opening the generic netlink socket.
    Socket,
    /// Looking up TIPC's generic netlink family.
    Family,
    /// Reading the network namespace's cookie.
    Namespace,
    /// Setting the key or the rekeying interval.
    KeySet,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Socket => "open a generic netlink socket",
            Step::Family => "look up TIPC's netlink family",
            Step::Namespace => "read the network namespace's cookie",
            Step::KeySet => "set the master key",
        })
    }
}

/// Why TIPC's master key could not be set.
#[derive(Debug)]
pub enum TipcError {
    /// The kernel has no TIPC, and could not load it.
    NoTipc,
    /// The kernel's TIPC has no encryption (`CONFIG_TIPC_CRYPTO`).
    NoCrypto,
    /// The kernel refused with EPERM: no node identity in this namespace
    /// (or no `CAP_NET_ADMIN` over it).
    NoIdentity,
    /// The kernel refused the key itself.
    Refused(Errno),
    /// The kernel did not answer within `ANSWER_WAIT`.
    NoAnswer(Step),
    /// Another OS error at `Step`.
    Os(Step, Errno),
    /// The stamp's directory, or one on its way, was refused.
    StampPath(PathError),
    /// The stamp could not be read or written.
    Stamp {
        /// The stamp.
        path: PathBuf,
        /// The OS error.
        why: io::Error,
    },
}

impl fmt::Display for TipcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TipcError::NoTipc => f.write_str(
                "TIPC: the kernel has no TIPC (its generic netlink family TIPCv2 is missing)",
            ),
            TipcError::NoCrypto => {
                f.write_str("TIPC: the kernel's TIPC cannot encrypt (no TIPC_NL_KEY_SET)")
            }
            TipcError::NoIdentity => f.write_str(
                "TIPC refused the master key (EPERM): this network namespace's TIPC has no node \
                 identity, or the run has no CAP_NET_ADMIN over it",
            ),
            TipcError::Refused(e) => write!(f, "TIPC refused the master key: {}", e.desc()),
            TipcError::NoAnswer(step) => write!(
                f,
                "TIPC: cannot {step}: the kernel gave no answer in {} s",
                ANSWER_WAIT.as_secs()
            ),
            TipcError::Os(step, e) => write!(f, "TIPC: cannot {step}: {}", e.desc()),
            TipcError::StampPath(e) => write!(f, "TIPC's stamp: {e}"),
            TipcError::Stamp { path, why } => {
                write!(f, "TIPC's stamp {}: {}", path.display(), os_error(why))
            }
        }
    }
}

impl TipcError {
    /// What the admin should do about it.
    pub(crate) fn fix(&self) -> Option<&'static str> {
        Some(match self {
            TipcError::NoTipc => {
                "load it ('modprobe tipc'; Debian: the linux-modules package of the running \
                 kernel), or leave out --tipc (TIPC=)"
            }
            TipcError::NoCrypto => {
                "use a kernel built with CONFIG_TIPC_CRYPTO (Linux 5.10 or later)"
            }
            TipcError::NoIdentity => {
                "give the namespace's TIPC a node identity first ('tipc node set identity ID'), \
                 then run again"
            }
            TipcError::Refused(_) => "check the kernel's log ('dmesg | grep tipc')",
            TipcError::NoAnswer(_) | TipcError::Os(..) => {
                "run again; if it fails again, check 'dmesg'"
            }
            TipcError::StampPath(e) => e.fix(),
            TipcError::Stamp { .. } => "check that /run/tofurkey is a directory root can write",
        })
    }
}
