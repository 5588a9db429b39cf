//! TIPC's cluster master key (`--tipc`): derived from the main key, set in
//! the run's network namespace through TIPC's generic netlink family. The
//! kernel makes, exchanges and replaces the session keys itself; every node
//! of the cluster needs the same master key, which is what this gives.
//!
//! The key does not change with the interval: only the main key decides it
//! (under a rollover, the next key from T on), because a link still running
//! on the master key drops when its two ends hold different ones. It is
//! `struct tipc_aead_key`'s `gcm(aes)` key: 32 bytes of AES-256 key, then
//! the 4-byte salt, each from the KDF under a personalization of its own.
//!
//! Here: the key and the run's two steps, `Prepared::open` (before the
//! main key is read: the family, the namespace, its stamp) and
//! `Prepared::apply`; the messages in `netlink.rs`, the socket in
//! `socket.rs`, what was set last in `stamp.rs`, errors in `error.rs`.

mod error;
mod netlink;
mod socket;
mod stamp;

pub use error::{Step, TipcError};

use crate::keys::{self, MainKey};
use crate::secret::Secret;
use netlink::{AES_LEN, Answer, KEY_LEN, KeySet, SALT_LEN};
use socket::Socket;
use stamp::{Stamp, StampFile};

/// Personalization of the master key's AES-256 key.
pub(crate) const PERSONAL_TIPC_KEY: [u8; 16] = *b"tofurkey-tipckey";
/// Personalization of its salt (the first 4 bytes of a 16-byte output).
pub(crate) const PERSONAL_TIPC_SALT: [u8; 16] = *b"tofurkey-tipcslt";
/// Personalization of its fingerprint.
pub(crate) const PERSONAL_TIPC_ID: [u8; 16] = *b"tofurkey-tipcid\0";
/// The KDF's counter for the master key: it is not the interval's.
const MASTER_COUNTER: u64 = 0;

/// The most minutes `--tipc-rekeying` takes: a week. 0 turns the
/// kernel's rekeying off.
pub const MAX_REKEYING: u32 = 7 * 24 * 60;
// The kernel's "now" (TIPC_REKEYING_NOW, ~0) is never asked for.
const _: () = assert!(MAX_REKEYING < u32::MAX);

/// TIPC's master key: AES-256 key then salt. Wiped on drop; never printed.
pub(crate) struct MasterKey(Secret<KEY_LEN>);

impl MasterKey {
    /// The master key `main` derives.
    pub(crate) fn derive(main: &MainKey) -> MasterKey {
        let mut key = Secret::<KEY_LEN>::zeroed();
        main.derive_into(MASTER_COUNTER, &PERSONAL_TIPC_KEY, &mut key[..AES_LEN]);
        let mut salt = Secret::<16>::zeroed();
        main.derive_into(MASTER_COUNTER, &PERSONAL_TIPC_SALT, &mut salt[..]);
        key[AES_LEN..].copy_from_slice(&salt[..SALT_LEN]);
        MasterKey(key)
    }

    /// A non-secret fingerprint: 16 hex digits, equal on every node that
    /// holds this key.
    pub(crate) fn id(&self) -> String {
        keys::unkeyed_fingerprint(&self.0[..], &PERSONAL_TIPC_ID)
    }
}

/// What a run did with TIPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The master key's id.
    pub id: String,
    /// Whether the key was set now (else it was in place already).
    pub key_set: bool,
    /// The rekeying interval set now, if it was.
    pub rekeying_set: Option<u32>,
}

impl Applied {
    /// What a run sets where `known` is in place: the key whose id is not
    /// recorded, the interval asked for that is not. Setting either again
    /// would restart what the kernel counts (a key's nonces, the rekeying
    /// timer), so what is recorded is not set.
    fn against(known: &Stamp, id: String, rekeying: Option<u32>) -> Applied {
        let key_set = known.key_id.as_deref() != Some(id.as_str());
        let rekeying_set = rekeying.filter(|m| known.rekeying != Some(*m));
        Applied {
            id,
            key_set,
            rekeying_set,
        }
    }

    /// Whether the run has nothing to send the kernel.
    fn sets_nothing(&self) -> bool {
        !self.key_set && self.rekeying_set.is_none()
    }
}

/// TIPC in the run's namespace, found and its stamp read; no key yet.
pub(crate) struct Prepared {
    socket: Socket,
    family: u16,
    /// `None` on a kernel without namespace cookies (before 5.14): every
    /// run then sets the key.
    stamp: Option<(StampFile, Stamp)>,
}

impl Prepared {
    /// Finds TIPC's family (loading the module if the kernel can) and what
    /// this boot's runs last set in this namespace.
    pub(crate) fn open() -> Result<Prepared, TipcError> {
        let mut socket = Socket::open()?;
        let family = socket.tipc_family()?;
        let stamp = match socket.netns_cookie()? {
            Some(cookie) => {
                let file = StampFile::open(cookie)?;
                let known = file.read()?;
                Some((file, known))
            }
            None => None,
        };
        Ok(Prepared {
            socket,
            family,
            stamp,
        })
    }

    /// Sets `key` and the `rekeying` interval where they differ from what
    /// is in place, then records them. A key set whose record then fails
    /// is `Ok` with the record's error beside it: the key is in place.
    pub(crate) fn apply(
        mut self,
        key: &MasterKey,
        rekeying: Option<u32>,
    ) -> Result<(Applied, Option<TipcError>), TipcError> {
        let known = self
            .stamp
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let applied = Applied::against(&known, key.id(), rekeying);
        if applied.sets_nothing() {
            return Ok((applied, None));
        }
        let mut buf = Secret::zeroed();
        let seq = self.socket.next_seq();
        let request = KeySet {
            key: applied.key_set.then_some(&key.0),
            rekeying: applied.rekeying_set,
        };
        let len = netlink::key_set(&mut buf, self.family, seq, &request);
        for answer in self.socket.exchange(&buf[..len], seq, Step::KeySet)? {
            if let Answer::Error(e) = answer {
                return Err(refusal(e));
            }
        }
        let recorded = self.stamp.as_ref().and_then(|(file, _)| {
            let stamp = Stamp {
                key_id: Some(applied.id.clone()),
                rekeying: rekeying.or(known.rekeying),
            };
            file.write(&stamp).err()
        });
        Ok((applied, recorded))
    }
}

/// The error for the kernel's refusal `errno` of a key set.
fn refusal(errno: i32) -> TipcError {
    match errno {
        libc::EPERM => TipcError::NoIdentity,
        // The command is not there: TIPC without CONFIG_TIPC_CRYPTO.
        libc::EOPNOTSUPP => TipcError::NoCrypto,
        e => TipcError::Refused(nix::errno::Errno::from_raw(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SPEC's main key (tests/common's SPEC_MAIN).
    const SPEC_MAIN: &str = "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b";
    /// Its master key and id, docs/DESIGN.md's vector: computed once with
    /// Python's hashlib.blake2b (tests/tipc/test_tipc_vm.py computes it
    /// again from that text).
    const SPEC_TIPC: &str =
        "adfab8c94b025cfe4a0c2f23e94a055e55e2d77fa5cd430e739ebe144309087a6f51c391";
    const SPEC_TIPC_ID: &str = "567347ce494df360";

    fn spec_main() -> MainKey {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(SPEC_MAIN, &mut bytes).unwrap();
        MainKey::new(bytes)
    }

    #[test]
    fn the_master_key_is_the_kdf_under_its_own_domains() {
        let main = spec_main();
        let key = MasterKey::derive(&main);
        let mut aes = [0u8; 32];
        main.derive_into(0, &PERSONAL_TIPC_KEY, &mut aes);
        let mut salt = [0u8; 16];
        main.derive_into(0, &PERSONAL_TIPC_SALT, &mut salt);
        assert_eq!(&key.0[..32], &aes);
        assert_eq!(&key.0[32..], &salt[..4]);
        // Another domain than the TFO key of counter 0.
        let mut tfo = [0u8; 16];
        main.derive_into(0, &crate::keys::PERSONAL, &mut tfo);
        assert_ne!(&key.0[..16], &tfo);
        assert_eq!(hex::encode(&key.0[..]), SPEC_TIPC);
        assert_eq!(key.id(), SPEC_TIPC_ID);
        assert!(!key.id().contains(&hex::encode(&key.0[..8])));
    }

    #[test]
    fn only_what_is_not_recorded_is_set() {
        let id = || "k1".to_string();
        let stamp = |key: Option<&str>, rekeying| Stamp {
            key_id: key.map(str::to_string),
            rekeying,
        };
        let set = |known: &Stamp, rekeying| {
            let a = Applied::against(known, id(), rekeying);
            (a.key_set, a.rekeying_set, a.sets_nothing())
        };
        // A namespace this boot has not keyed: everything asked for.
        assert_eq!(set(&Stamp::default(), Some(60)), (true, Some(60), false));
        assert_eq!(set(&Stamp::default(), None), (true, None, false));
        // Another key in place: the key alone, the interval kept.
        assert_eq!(
            set(&stamp(Some("k0"), Some(60)), Some(60)),
            (true, None, false)
        );
        // The key in place: the interval alone when it changed.
        assert_eq!(
            set(&stamp(Some("k1"), Some(60)), Some(30)),
            (false, Some(30), false)
        );
        assert_eq!(
            set(&stamp(Some("k1"), None), Some(60)),
            (false, Some(60), false)
        );
        // Both in place, or no interval asked for: nothing at all.
        assert_eq!(
            set(&stamp(Some("k1"), Some(60)), Some(60)),
            (false, None, true)
        );
        assert_eq!(set(&stamp(Some("k1"), Some(60)), None), (false, None, true));
    }

    #[test]
    fn refusals_name_what_is_missing() {
        assert!(matches!(refusal(libc::EPERM), TipcError::NoIdentity));
        assert!(matches!(refusal(libc::EOPNOTSUPP), TipcError::NoCrypto));
        assert!(matches!(refusal(libc::EINVAL), TipcError::Refused(_)));
        let line = TipcError::NoIdentity.to_string();
        assert!(line.contains("node identity"), "{line}");
        assert!(
            TipcError::NoIdentity
                .fix()
                .unwrap()
                .contains("tipc node set identity")
        );
        assert!(TipcError::NoTipc.fix().unwrap().contains("modprobe tipc"));
        // Each step's words, in the line that names it.
        for (step, words) in [
            (Step::Socket, "open a generic netlink socket"),
            (Step::Family, "look up TIPC's netlink family"),
            (Step::Namespace, "read the network namespace's cookie"),
            (Step::KeySet, "set the master key"),
        ] {
            let line = TipcError::NoAnswer(step).to_string();
            assert!(
                line.starts_with(&format!("TIPC: cannot {words}: ")),
                "{line}"
            );
        }
    }
}
