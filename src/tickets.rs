//! TLS session-ticket keys: derivation, schedule and the two servers'
//! layouts. Pure, no I/O (`nginx.rs` and `haproxy/` write them).
//!
//! Ticket key *n* is one logical key — a 16-byte name (sent in clear in
//! every ticket), a 32-byte AES-256 key and a 32-byte HMAC-SHA256 key —
//! each part derived on its own from the main key with the TFO keys' KDF
//! (keyed BLAKE2b, salt = *n* as LE64 then 8 zero bytes) under its own
//! personalization, so no part equals or helps compute another part, a TFO
//! key or a fingerprint:
//!
//! ```text
//! name = BLAKE2b-128(key=main, salt=LE64(n)||0^8, person="tofurkey-tkname\0")
//! aes  = BLAKE2b-256(key=main, salt=LE64(n)||0^8, person="tofurkey-tkaes\0\0")
//! hmac = BLAKE2b-256(key=main, salt=LE64(n)||0^8, person="tofurkey-tkhmac\0")
//! ```
//!
//! Schedule: *n* = ⌊now / I⌋. A server holds previous (*n*−1), current (*n*,
//! encrypts) and next (*n*+1): a host whose clock is up to one interval off
//! still holds the key of every ticket the others issue, and a ticket key
//! lives three intervals. The set changes only at multiples of I.

use crate::counters::{Interval, UnixTime};
use crate::keys::{Keys, MainKey, PERSONAL, PERSONAL_MAIN_ID, PERSONAL_PAIR_ID};
use crate::secret::Secret;

/// Bytes of a ticket key's name (OpenSSL's `tick_key_name`).
pub(crate) const NAME_LEN: usize = 16;
/// Bytes of the AES-256-CBC key.
pub(crate) const AES_LEN: usize = 32;
/// Bytes of the HMAC-SHA256 key.
pub(crate) const HMAC_LEN: usize = 32;
/// Bytes of one key in either server's layout.
pub(crate) const KEY_LEN: usize = NAME_LEN + AES_LEN + HMAC_LEN;
/// Keys a server holds: previous, current, next.
pub(crate) const SET_LEN: usize = 3;
/// Characters of one key in base64 (HAProxy's file and runtime API).
pub(crate) const BASE64_LEN: usize = KEY_LEN.div_ceil(3) * 4;
/// Bytes of HAProxy's file: a line of base64 and its newline per key.
pub(crate) const HAPROXY_FILE_LEN: usize = SET_LEN * (BASE64_LEN + 1);
/// Bytes of nginx's three files together.
pub(crate) const NGINX_FILES_LEN: usize = SET_LEN * KEY_LEN;

/// Personalizations of the three parts.
const PERSONAL_NAME: [u8; 16] = *b"tofurkey-tkname\0";
const PERSONAL_AES: [u8; 16] = *b"tofurkey-tkaes\0\0";
const PERSONAL_HMAC: [u8; 16] = *b"tofurkey-tkhmac\0";
/// Personalization of the ticket set fingerprint.
const PERSONAL_SET_ID: [u8; 16] = *b"tofurkey-tickid\0";

/// Byte-wise equality, usable in const assertions.
const fn same(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let mut i = 0;
    while i < 16 {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Every personalization of the KDF, for the domain-separation assertion.
const DOMAINS: [[u8; 16]; 10] = [
    PERSONAL,
    PERSONAL_MAIN_ID,
    PERSONAL_PAIR_ID,
    PERSONAL_NAME,
    PERSONAL_AES,
    PERSONAL_HMAC,
    PERSONAL_SET_ID,
    crate::tipc::PERSONAL_TIPC_KEY,
    crate::tipc::PERSONAL_TIPC_SALT,
    crate::tipc::PERSONAL_TIPC_ID,
];
const _: () = {
    let mut i = 0;
    while i < DOMAINS.len() {
        let mut j = i + 1;
        while j < DOMAINS.len() {
            assert!(!same(&DOMAINS[i], &DOMAINS[j]), "KDF domains must differ");
            j += 1;
        }
        i += 1;
    }
};
// nginx takes 80-byte files (48-byte ones are AES-128); HAProxy's
// `struct tls_sess_key_256` is the same 80 bytes in another order.
const _: () = assert!(KEY_LEN == 80 && BASE64_LEN == 108);
// `n - 1` cannot underflow: MIN_TIME / MAX_INTERVAL >= 1 (counters.rs).
const _: () = assert!(crate::counters::MIN_TIME / crate::counters::MAX_INTERVAL >= 1);

/// One logical ticket key, kept in HAProxy's layout (name | AES | HMAC,
/// `struct tls_sess_key_256`): its file and runtime API take it as it is.
/// Wiped on drop; never printed.
pub struct TicketKey {
    haproxy: Secret<KEY_LEN>,
}

impl TicketKey {
    /// Derives ticket key `counter` from the main key.
    pub(crate) fn derive(main: &MainKey, counter: u64) -> TicketKey {
        // Each part derived in place: no copy of it is left to wipe.
        let mut key = TicketKey {
            haproxy: Secret::zeroed(),
        };
        let (name, rest) = key.haproxy.split_at_mut(NAME_LEN);
        let (aes, hmac) = rest.split_at_mut(AES_LEN);
        main.derive_into(counter, &PERSONAL_NAME, name);
        main.derive_into(counter, &PERSONAL_AES, aes);
        main.derive_into(counter, &PERSONAL_HMAC, hmac);
        key
    }

    /// The name, sent in clear in every ticket.
    pub(crate) fn name(&self) -> &[u8] {
        &self.haproxy[..NAME_LEN]
    }

    fn aes(&self) -> &[u8] {
        &self.haproxy[NAME_LEN..NAME_LEN + AES_LEN]
    }

    fn hmac(&self) -> &[u8] {
        &self.haproxy[NAME_LEN + AES_LEN..]
    }

    /// nginx's 80-byte file, in its order: name | HMAC | AES
    /// (`ngx_ssl_session_ticket_keys`).
    pub(crate) fn nginx_parts(&self) -> [&[u8]; 3] {
        [self.name(), self.hmac(), self.aes()]
    }

    /// HAProxy's 80 bytes: name | AES | HMAC.
    pub(crate) fn haproxy(&self) -> &[u8; KEY_LEN] {
        &self.haproxy
    }

    /// HAProxy's form in its file and runtime API: base64 of [`Self::haproxy`].
    pub(crate) fn haproxy_base64(&self) -> Secret<BASE64_LEN> {
        let mut out = Secret::zeroed();
        base64(&self.haproxy, &mut out);
        out
    }
}

impl std::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketKey(<secret>)")
    }
}

/// Which ticket keys are live at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// *n* = ⌊now / I⌋: the current key, which encrypts new tickets.
    pub current: u64,
    /// The interval I.
    pub interval: Interval,
}

impl Schedule {
    /// The schedule at `now` with `interval` (the TFO keys' `-i`).
    pub fn at(now: UnixTime, interval: Interval) -> Schedule {
        Schedule {
            current: now.secs() / interval.secs(),
            interval,
        }
    }

    /// The counters a server holds, oldest first: previous, current, next.
    pub(crate) fn counters(self) -> [u64; SET_LEN] {
        [self.current - 1, self.current, self.current + 1]
    }

    /// Unix time of the next change of the set: (*n* + 1) · I.
    pub(crate) fn next_change(self) -> u64 {
        (self.current + 1) * self.interval.secs()
    }

    /// The schedule one interval earlier: what a host still holds when a
    /// rotation was missed. `None` in the first interval whose set exists
    /// (its previous set would need key −1).
    pub(crate) fn previous(self) -> Option<Schedule> {
        (self.current >= 2).then_some(Schedule {
            current: self.current - 1,
            ..self
        })
    }
}

/// The keys a server holds at one moment, oldest first. Wiped on drop.
pub struct TicketSet {
    /// previous, current, next.
    pub keys: [TicketKey; SET_LEN],
}

impl TicketSet {
    /// Derives the set for `schedule`, each key from the main key
    /// [`Keys::for_counter`] names.
    pub fn derive<'a>(keys: impl Into<Keys<'a>>, schedule: Schedule) -> TicketSet {
        let keys = keys.into();
        TicketSet {
            keys: schedule
                .counters()
                .map(|n| TicketKey::derive(keys.for_counter(n), n)),
        }
    }

    /// The current key (encrypts). The outputs take `keys` whole; only the
    /// tests ask for one key by its role.
    #[cfg(test)]
    fn current(&self) -> &TicketKey {
        &self.keys[1]
    }

    /// nginx's three files, oldest first, concatenated (for comparisons).
    pub(crate) fn nginx_files(&self) -> Secret<NGINX_FILES_LEN> {
        let mut out = Secret::zeroed();
        let mut at = 0;
        for key in &self.keys {
            for part in key.nginx_parts() {
                out[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
        }
        out
    }

    /// HAProxy's file: the keys base64, one per line, oldest first
    /// (HAProxy encrypts with the penultimate line: the current key).
    pub(crate) fn haproxy_file(&self) -> Secret<HAPROXY_FILE_LEN> {
        let mut out = Secret::filled(b'\n');
        for (line, key) in out.chunks_exact_mut(BASE64_LEN + 1).zip(&self.keys) {
            if let Some(text) = line.first_chunk_mut() {
                base64(key.haproxy(), text);
            }
        }
        out
    }

    /// A non-secret fingerprint of the set: 16 hex digits of unkeyed
    /// BLAKE2b-64 over the three names (oldest first), which are public:
    /// every ticket carries its key's name in clear. Equal on every host
    /// holding the same set, in nginx's and HAProxy's layouts alike.
    pub fn fingerprint(&self) -> String {
        let mut names = [0u8; NAME_LEN * SET_LEN];
        for (chunk, key) in names.chunks_exact_mut(NAME_LEN).zip(&self.keys) {
            chunk.copy_from_slice(key.name());
        }
        set_fingerprint(&names)
    }
}

/// The set fingerprint of the names of a set, oldest first (what
/// [`TicketSet::fingerprint`] computes; for the files of other hosts).
pub(crate) fn set_fingerprint(names: &[u8; NAME_LEN * SET_LEN]) -> String {
    crate::keys::unkeyed_fingerprint(names, &PERSONAL_SET_ID)
}

/// Standard base64 with padding (RFC 4648 §4), as HAProxy reads and prints
/// it, into the caller's buffer. Fixed sizes: no allocation that could keep
/// a copy of a key.
fn base64(bytes: &[u8; KEY_LEN], out: &mut [u8; BASE64_LEN]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // 26 whole groups of 3 bytes, then 2 bytes: 3 characters and one '='.
    const WHOLE: usize = KEY_LEN / 3;
    const _: () = assert!(KEY_LEN % 3 == 2 && BASE64_LEN == 4 * WHOLE + 4);
    let put = |out: &mut [u8], word: u32| {
        for (c, shift) in out.iter_mut().zip([18, 12, 6, 0]) {
            *c = ALPHABET[(word >> shift & 63) as usize];
        }
    };
    for i in 0..WHOLE {
        let b = &bytes[3 * i..3 * i + 3];
        let word = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        put(&mut out[4 * i..4 * i + 4], word);
    }
    let word = u32::from(bytes[KEY_LEN - 2]) << 16 | u32::from(bytes[KEY_LEN - 1]) << 8;
    put(&mut out[4 * WHOLE..4 * WHOLE + 3], word);
    out[BASE64_LEN - 1] = b'=';
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_MAIN: &str = "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b";

    fn spec_key() -> MainKey {
        let mut b = [0u8; 32];
        hex::decode_to_slice(SPEC_MAIN, &mut b).unwrap();
        MainKey::new(b)
    }

    fn at(now: u64, interval: u64) -> Schedule {
        Schedule::at(
            UnixTime::new(now).unwrap(),
            Interval::new(interval).unwrap(),
        )
    }

    /// The README's test vector, computed with Python's hashlib:
    /// `blake2b(digest_size=16, key=main, salt=(11).to_bytes(8, "little") +
    /// bytes(8), person=b"tofurkey-tkname\0")` and likewise for the others.
    #[test]
    fn spec_vector() {
        let k = TicketKey::derive(&spec_key(), 11);
        assert_eq!(hex::encode(k.name()), "2d1c9f5ae203c4b258f75c6e85a88b03");
        assert_eq!(
            hex::encode(k.aes()),
            "1044e7bd0bfe084a14f527fafe9c5b79746994f9112b6a062f4d16647be32661"
        );
        assert_eq!(
            hex::encode(k.hmac()),
            "725f9241b37e092e41c6648e0005034d3afcb059c82ce7530fc94b64cc7af386"
        );
        // `base64.b64encode(name + aes + hmac)`: HAProxy's line.
        assert_eq!(
            &k.haproxy_base64()[..],
            b"LRyfWuIDxLJY91xuhaiLAxBE570L/ghKFPUn+v6cW3l0aZT5EStqBi9NFmR74yZhcl+SQbN+CS5BxmSOAAUDTTr8sFnILOdTD8lLZMx684Y="
        );
        // `blake2b(names of 10, 11, 12, digest_size=8, person=b"tofurkey-tickid\0")`.
        let set = TicketSet::derive(&spec_key(), at(1_000_000, 86_400));
        assert_eq!(set.fingerprint(), "18e865e338bc5e94");
        let file = set.haproxy_file();
        assert_eq!(file.len(), HAPROXY_FILE_LEN);
        assert_eq!(
            &file[BASE64_LEN + 1..2 * BASE64_LEN + 1],
            &k.haproxy_base64()[..]
        );
        assert_eq!(file.iter().filter(|&&b| b == b'\n').count(), 3);
        let files = set.nginx_files();
        assert_eq!(&files[KEY_LEN..2 * KEY_LEN], &k.nginx_parts().concat()[..]);
        assert_eq!(files.len(), 240);
    }

    #[test]
    fn layouts() {
        let k = TicketKey::derive(&spec_key(), 11);
        let (ngx, hap) = (k.nginx_parts().concat(), k.haproxy());
        assert_eq!(&ngx[..16], k.name());
        assert_eq!(&ngx[16..48], k.hmac());
        assert_eq!(&ngx[48..], k.aes());
        assert_eq!(&hap[..16], k.name());
        assert_eq!(&hap[16..48], k.aes());
        assert_eq!(&hap[48..], k.hmac());
    }

    #[test]
    fn parts_are_independent_and_counters_matter() {
        let main = spec_key();
        let k = TicketKey::derive(&main, 11);
        assert_ne!(k.aes(), k.hmac());
        assert_ne!(k.name(), &k.aes()[..16]);
        let mut tfo = [0; 16];
        main.derive_into(11, &PERSONAL, &mut tfo);
        assert_ne!(k.name(), tfo, "not the TFO key");
        assert_ne!(k.name(), TicketKey::derive(&main, 12).name());
        assert_ne!(k.aes(), TicketKey::derive(&MainKey::new([7; 32]), 11).aes());
    }

    #[test]
    fn base64_matches_rfc4648() {
        let mut bytes = [0u8; KEY_LEN];
        bytes[..6].copy_from_slice(b"foobar");
        let mut text = [0; BASE64_LEN];
        base64(&bytes, &mut text);
        assert!(text.starts_with(b"Zm9vYmFy"));
        assert_eq!(text[BASE64_LEN - 1], b'=');
        assert_eq!(text[BASE64_LEN - 2], b'A');
        let mut all = [0; BASE64_LEN];
        base64(&[0xff; KEY_LEN], &mut all);
        assert!(all[..BASE64_LEN - 4].iter().all(|&c| c == b'/'));
        assert_eq!(&all[BASE64_LEN - 4..], b"//8=");
    }

    #[test]
    fn schedule() {
        let s = at(1_000_000, 86_400);
        assert_eq!(s.current, 11);
        assert_eq!(s.counters(), [10, 11, 12]);
        assert_eq!(s.next_change(), 12 * 86_400);
        // The half-interval boundary changes the TFO pair, not the set.
        assert_eq!(at(23 * 86_400 + 43_200, 86_400), at(23 * 86_400, 86_400));
        assert_eq!(at(12 * 86_400 - 1, 86_400), s);
        assert_eq!(at(12 * 86_400, 86_400).current, 12);
        assert_eq!(s.previous().map(|p| p.current), Some(10));
        let later = at(2_000_000, 86_400);
        assert_eq!(later.previous(), Some(at(23 * 86_400 - 1, 86_400)));
        // n = 1 (the earliest time, the longest interval): no previous set.
        assert_eq!(at(1_000_000, 604_800).current, 1);
        assert_eq!(at(1_000_000, 604_800).previous(), None);
    }

    #[test]
    fn set_fingerprint_is_stable_and_changes_with_the_set() {
        let main = spec_key();
        let set = TicketSet::derive(&main, at(1_000_000, 86_400));
        let id = set.fingerprint();
        assert_eq!(id.len(), 16);
        assert_eq!(
            id,
            TicketSet::derive(&main, at(1_000_001, 86_400)).fingerprint()
        );
        assert_ne!(
            id,
            TicketSet::derive(&main, at(1_100_000, 86_400)).fingerprint()
        );
        assert_eq!(set.current().name(), TicketKey::derive(&main, 11).name());
    }

    #[test]
    fn rollover_rule_for_every_set_around_t() {
        use crate::keys::Rollover;
        let (current, next) = (spec_key(), MainKey::new([7; 32]));
        let first = 20;
        let keys = Keys {
            current: &current,
            rollover: Some(Rollover { next: &next, first }),
        };
        for n in first - 2..=first + 2 {
            let schedule = at(n * 86_400, 86_400);
            let set = TicketSet::derive(keys, schedule);
            for (key, m) in set.keys.iter().zip(schedule.counters()) {
                let by_rule = if m >= first { &next } else { &current };
                assert_eq!(
                    key.haproxy(),
                    TicketKey::derive(by_rule, m).haproxy(),
                    "set {n}, key {m}"
                );
            }
        }
        // Before T − I: the current key's set; from T + I: the next key's.
        let before = at((first - 2) * 86_400, 86_400);
        let after = at((first + 1) * 86_400, 86_400);
        assert_eq!(
            TicketSet::derive(keys, before).haproxy_file().as_ref(),
            TicketSet::derive(&current, before).haproxy_file().as_ref()
        );
        assert_eq!(
            TicketSet::derive(keys, after).haproxy_file().as_ref(),
            TicketSet::derive(&next, after).haproxy_file().as_ref()
        );
    }
}
