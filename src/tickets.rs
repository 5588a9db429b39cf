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

/// True when no two personalizations are the same: a function, not a bare
/// loop in the assertion, so a unit test can show it rejects a repeat.
const fn distinct(domains: &[[u8; 16]]) -> bool {
    let mut i = 0;
    while i < domains.len() {
        let mut j = i + 1;
        while j < domains.len() {
            if same(&domains[i], &domains[j]) {
                return false;
            }
            j += 1;
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
const _: () = assert!(distinct(&DOMAINS), "KDF domains must differ");
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
mod tests;
