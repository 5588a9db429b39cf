//! Key derivation and formatting: pure, no I/O.
//!
//! Byte-compatible with tofurkey 1.3.4, which used libsodium's
//! `crypto_kdf_blake2b_derive_from_key(out16, counter, "tofurkey", main)`:
//! BLAKE2b, 16-byte digest, keyed with the main key, salt = counter as LE64
//! followed by 8 zero bytes, personalization = "tofurkey" followed by 8 zero
//! bytes, empty message. Every buffer that holds key material is wiped on drop.

use blake2::Blake2bMac;
use blake2::digest::Mac;
use blake2::digest::consts::{U8, U16, U32};

use crate::secret::Secret;

/// Length of the main key in bytes (libsodium's `crypto_kdf_KEYBYTES`).
pub const MAIN_KEY_LEN: usize = 32;
/// Length of one TFO key in bytes (the kernel's `TCP_FASTOPEN_KEY_LENGTH`).
pub(crate) const TFO_KEY_LEN: usize = 16;
/// Hex digits of one 32-bit group of a key in procfs text.
const GROUP_HEX_LEN: usize = 8;
/// A group and the dash after it.
const GROUP_TEXT_LEN: usize = GROUP_HEX_LEN + 1;
/// Length of one key in procfs text: 32 hex digits in 4 groups of 8, 3 dashes.
const KEY_TEXT_LEN: usize = TFO_KEY_LEN / 4 * GROUP_TEXT_LEN - 1;
/// Length of the procfs text for a pair, `PRIMARY,BACKUP`, without the NUL.
pub(crate) const PAIR_TEXT_LEN: usize = KEY_TEXT_LEN * 2 + 1;
/// The KDF's personalization: 1.3.4's libsodium context "tofurkey", zero-padded.
pub(crate) const PERSONAL: [u8; 16] = *b"tofurkey\0\0\0\0\0\0\0\0";
/// Personalization of the main key fingerprint: distinct from [`PERSONAL`],
/// so a fingerprint can never equal (or help compute) a TFO key.
pub(crate) const PERSONAL_MAIN_ID: [u8; 16] = *b"tofurkey-mainid\0";
/// Personalization of the key pair fingerprint.
pub(crate) const PERSONAL_PAIR_ID: [u8; 16] = *b"tofurkey-pairid\0";

const _: () = assert!(
    PAIR_TEXT_LEN == 71,
    "the kernel's format: 64 hex, 6 dashes, a comma"
);
// BLAKE2b limits: key <= 64, salt and personalization exactly 16 here.
const _: () = assert!(MAIN_KEY_LEN <= 64 && TFO_KEY_LEN <= 64);
const _: () = assert!(
    TFO_KEY_LEN.is_multiple_of(4),
    "procfs groups keys in 32-bit words"
);
const _: () = assert!(KEY_TEXT_LEN == 35 && GROUP_HEX_LEN == 4 * 2);

/// The long-term 32-byte main key. Wiped on drop; never printed.
pub struct MainKey(Secret<MAIN_KEY_LEN>);

impl MainKey {
    /// Wraps 32 key bytes. The caller's copy should be wiped by the caller.
    pub fn new(bytes: [u8; MAIN_KEY_LEN]) -> MainKey {
        let mut key = Secret::zeroed();
        *key = bytes;
        MainKey(key)
    }

    /// Derives the TFO key for `counter` (one interval's key).
    pub(crate) fn derive(&self, counter: u64) -> TfoKey {
        let mut key = Secret::zeroed();
        blake2b::<U16>(&self.0[..], &counter_salt(counter), &PERSONAL, &mut key[..]);
        TfoKey(key)
    }

    /// Derives `LEN` (16 or 32) bytes for `counter` under `personal` into
    /// `out`: the KDF of the TFO keys (salt = counter LE64 and 8 zero bytes),
    /// in another domain. The ticket keys (`tickets.rs`) use it with their
    /// own personalizations, each part derived where it is kept.
    pub(crate) fn derive_into(&self, counter: u64, personal: &[u8; 16], out: &mut [u8]) {
        let salt = counter_salt(counter);
        match out.len() {
            16 => blake2b::<U16>(&self.0[..], &salt, personal, out),
            32 => blake2b::<U32>(&self.0[..], &salt, personal, out),
            _ => unreachable!("ticket key parts are 16 or 32 bytes"),
        }
    }

    /// True when `other` holds the same bytes (a next key that is the
    /// current one is refused).
    pub fn same_as(&self, other: &MainKey) -> bool {
        // Compared whole, not stopping at the first difference.
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// A non-secret fingerprint of the main key: 16 hex digits of BLAKE2b-64
    /// keyed with the main key under its own personalization. Equal on every
    /// host holding the same main key.
    pub fn fingerprint(&self) -> String {
        let mut id = [0u8; 8];
        blake2b::<U8>(&self.0[..], &[0; 16], &PERSONAL_MAIN_ID, &mut id);
        fingerprint_hex(id)
    }
}

impl std::fmt::Debug for MainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MainKey(<secret>)")
    }
}

/// The pair fingerprint of a procfs text (see [`PairText::fingerprint`]).
pub(crate) fn pair_fingerprint(text: &[u8]) -> String {
    unkeyed_fingerprint(text, &PERSONAL_PAIR_ID)
}

/// 16 hex digits of unkeyed BLAKE2b-64 over `data` under `personal`: a
/// fingerprint anyone can compute from public (or publicly shown) bytes.
pub(crate) fn unkeyed_fingerprint(data: &[u8], personal: &[u8; 16]) -> String {
    let mut out = [0u8; 8];
    match Blake2bMac::<U8>::new_with_salt_and_personal(None, &[], personal) {
        Ok(mut mac) => {
            mac.update(data);
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        Err(_) => unreachable!("BLAKE2b parameter lengths are fixed at compile time"),
    }
    fingerprint_hex(out)
}

/// A fingerprint's 16 hex digits (`hex::encode` goes a character at a time).
fn fingerprint_hex(bytes: [u8; 8]) -> String {
    hex::encode(bytes)
}

/// libsodium's KDF salt: the counter as LE64, then 8 zero bytes.
fn counter_salt(counter: u64) -> [u8; 16] {
    let mut salt = [0u8; 16];
    salt[..8].copy_from_slice(&counter.to_le_bytes());
    salt
}

/// Keyed BLAKE2b with salt and personalization over an empty message,
/// its `N`-byte digest written into `out` (`N` bytes: where the caller
/// keeps it); the hasher's state (which holds the key) is wiped by its own
/// `Drop`.
fn blake2b<N>(key: &[u8], salt: &[u8; 16], personal: &[u8; 16], out: &mut [u8])
where
    N: blake2::digest::array::ArraySize
        + blake2::digest::typenum::IsLessOrEqual<
            blake2::digest::consts::U64,
            Output = blake2::digest::typenum::True,
        >,
{
    match Blake2bMac::<N>::new_with_salt_and_personal(Some(key), salt, personal) {
        Ok(mac) => out.copy_from_slice(&mac.finalize().into_bytes()),
        // Unreachable: key, salt and personalization lengths are fixed by
        // the types above and checked by the const assertions.
        Err(_) => unreachable!("BLAKE2b parameter lengths are fixed at compile time"),
    }
}

/// One 16-byte TFO key. Wiped on drop; never printed.
pub struct TfoKey(Secret<TFO_KEY_LEN>);

/// The pair written to procfs, in its text form plus the trailing NUL that
/// 1.3.4 writes. Wiped on drop.
pub struct PairText(Secret<{ PAIR_TEXT_LEN + 1 }>);

impl PairText {
    /// Formats `primary,backup` the way the kernel prints and parses it.
    pub(crate) fn new(primary: &TfoKey, backup: &TfoKey) -> PairText {
        let mut buf = Secret::zeroed();
        write_key(&mut buf[..KEY_TEXT_LEN], &primary.0);
        buf[KEY_TEXT_LEN] = b',';
        write_key(&mut buf[KEY_TEXT_LEN + 1..PAIR_TEXT_LEN], &backup.0);
        PairText(buf)
    }

    /// The 71 characters, for comparison and for `-V`.
    pub fn text(&self) -> &[u8] {
        &self.0[..PAIR_TEXT_LEN]
    }

    /// The 72 bytes for the single procfs write (text and NUL, as 1.3.4).
    pub(crate) fn for_write(&self) -> &[u8] {
        &self.0[..]
    }

    /// A non-secret fingerprint of the pair: 16 hex digits of unkeyed
    /// BLAKE2b-64 over the 71-character text under its own personalization,
    /// so anyone can compute it from the procfs file.
    pub fn fingerprint(&self) -> String {
        pair_fingerprint(self.text())
    }
}

/// Writes 16 bytes as `xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx` into `out`
/// ([`KEY_TEXT_LEN`] bytes).
fn write_key(out: &mut [u8], key: &[u8; TFO_KEY_LEN]) {
    for (i, word) in key.chunks_exact(4).enumerate() {
        let at = i * GROUP_TEXT_LEN;
        if hex::encode_to_slice(word, &mut out[at..at + GROUP_HEX_LEN]).is_err() {
            unreachable!("4 bytes always encode to 8 hex digits");
        }
        if at + GROUP_HEX_LEN < out.len() {
            out[at + GROUP_HEX_LEN] = b'-';
        }
    }
}

/// What a procfs text is by its form alone: how a target's content is
/// told apart without naming a byte of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// No text at all.
    Empty,
    /// Zeros in the key format: what a kernel shows before any key was set.
    NeverSet,
    /// One well-formed key: what a kernel before 5.3 keeps of a pair.
    Key,
    /// A well-formed pair.
    Pair,
    /// Anything else: its length and comma-separated field count.
    Other {
        /// Bytes.
        len: usize,
        /// Comma-separated fields.
        fields: usize,
    },
}

impl Form {
    /// Classifies a procfs text (up to its newline).
    pub(crate) fn of(text: &[u8]) -> Form {
        let keys_well_formed = text.split(|&b| b == b',').all(key_well_formed);
        match text.len() {
            0 => Form::Empty,
            _ if never_set(text) => Form::NeverSet,
            KEY_TEXT_LEN if keys_well_formed => Form::Key,
            PAIR_TEXT_LEN if keys_well_formed => Form::Pair,
            len => Form::Other {
                len,
                fields: text.split(|&b| b == b',').count(),
            },
        }
    }
}

/// True for what a kernel shows before any key was set: zeros (with the
/// procfs dashes and comma), not one non-zero digit. Writing that back would
/// set a real all-zero key, which anyone can compute cookies with.
pub(crate) fn never_set(text: &[u8]) -> bool {
    matches!(text.len(), KEY_TEXT_LEN | PAIR_TEXT_LEN)
        && text.iter().all(|&b| matches!(b, b'0' | b'-' | b','))
}

/// `xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx` in lowercase hex, as [`write_key`]
/// writes it.
fn key_well_formed(key: &[u8]) -> bool {
    key.len() == KEY_TEXT_LEN
        && key
            .iter()
            .enumerate()
            .all(|(i, &b)| match i % GROUP_TEXT_LEN {
                GROUP_HEX_LEN => b == b'-',
                _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            })
}

/// A scheduled rollover: the next main key and its first counter, T / I.
/// Counters from `first` on are derived from `next`.
#[derive(Clone, Copy, Debug)]
pub struct Rollover<'a> {
    /// The next main key.
    pub next: &'a MainKey,
    /// The first counter the next key derives: T / I.
    pub first: u64,
}

/// The main keys of a run: the current one and, while a rollover is
/// configured, the next one and its first counter. Which key derives
/// counter *m* is [`Keys::for_counter`]; without a rollover it is always the
/// current one, so every output is what it is with the current key alone.
#[derive(Clone, Copy, Debug)]
pub struct Keys<'a> {
    /// The current main key (its fingerprint is `TOFURKEY_MAIN_KEY_ID`).
    pub current: &'a MainKey,
    /// The next main key and its first counter, if a rollover is configured.
    pub rollover: Option<Rollover<'a>>,
}

impl<'a> Keys<'a> {
    /// The current key alone: no rollover.
    pub fn single(current: &'a MainKey) -> Keys<'a> {
        Keys {
            current,
            rollover: None,
        }
    }

    /// The main key that derives counter `m`: the next one when a rollover
    /// is configured and `m` ≥ T / I, the current one otherwise.
    pub fn for_counter(&self, m: u64) -> &'a MainKey {
        match self.rollover {
            Some(r) if m >= r.first => r.next,
            _ => self.current,
        }
    }
}

impl<'a> From<&'a MainKey> for Keys<'a> {
    fn from(current: &'a MainKey) -> Keys<'a> {
        Keys::single(current)
    }
}

/// Derives and formats the pair for the given counters, each from the main
/// key [`Keys::for_counter`] names.
pub fn pair_text<'a>(keys: impl Into<Keys<'a>>, primary: u64, backup: u64) -> PairText {
    let keys = keys.into();
    PairText::new(
        &keys.for_counter(primary).derive(primary),
        &keys.for_counter(backup).derive(backup),
    )
}

#[cfg(test)]
mod tests;
