//! A main key made the usual wrong way: text where 32 random bytes belong
//! (`openssl rand -hex 32 > key`, `openssl rand -base64 32 > key`, a
//! passphrase). Only its first 32 bytes are used, as 1.3.4 used them, so
//! the keys stay 1.3.4's; but 32 hex characters hold 128 bits of entropy
//! and 32 base64 characters 192, not 256. A warning says so, and how to
//! make a binary key. It names the source, never a byte of the key.
//!
//! What counts as text: each of the 32 bytes used is printable ASCII
//! (0x20..=0x7E) or a tab, line feed or carriage return. Hex and base64
//! (and base64url) are in that set, and so is anything typed. A random
//! binary key is text by chance with probability (98/256)^32, under
//! 2^-44: never in practice.

use super::Source;
use super::error::content_name;
use crate::keys::MAIN_KEY_LEN;

/// True when every byte of the key is text (see the module's comment).
/// Every byte is looked at, whatever the first ones are: how long this
/// takes says nothing of where a non-text byte is.
pub(super) fn is_text(key: &[u8; MAIN_KEY_LEN]) -> bool {
    key.iter().fold(true, |all, &b| {
        all & (b.is_ascii_graphic() | (b == b' ') | (b == b'\t') | (b == b'\n') | (b == b'\r'))
    })
}

/// The warning for a key of text from `source`: what was used, what it is
/// worth, and how to make a binary key (for a cluster, on every host at
/// once).
pub(super) fn warning(source: &Source) -> String {
    format!(
        "{} is text, as 'openssl rand -hex 32' or '-base64 32' writes: only its first \
         {MAIN_KEY_LEN} characters are the key (as in 1.3.4), 128 bits of entropy if hex, 192 \
         if base64, not 256: make a binary key with '(umask 077; head -c 32 /dev/urandom > \
         FILE)' or 'openssl rand 32 > FILE' and, for a cluster, put it on every host at once \
         (README, \"Replacing the main key\")",
        content_name(source)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_counts_as_text() {
        // What 'openssl rand -hex 32' and '-base64 32' write (the first 32
        // bytes of each), with and without the trailing newline in range.
        let hex = *b"9f86d081884c7d659a2feaa0c55ad015";
        let base64 = *b"n4bQgYhMfWWaL+qgxVrQFQ/f+Tq3Xy1o";
        let short_hex_line = *b"9f86d081884c7d659a2feaa0c55ad01\n";
        let phrase = *b"correct horse\tbattery staple\r\n!!";
        for key in [hex, base64, short_hex_line, phrase] {
            assert!(is_text(&key), "{key:?}");
        }
        // One byte outside the set, wherever it is, makes it binary.
        for at in [0, 15, 31] {
            for b in [0x00, 0x1f, 0x7f, 0x80, 0xff, 0x0b] {
                let mut key = hex;
                key[at] = b;
                assert!(!is_text(&key), "{b:#x} at {at}");
            }
        }
        // The 1.3.4 test key is binary.
        let mut spec = [0u8; MAIN_KEY_LEN];
        hex::decode_to_slice(
            "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b",
            &mut spec,
        )
        .unwrap();
        assert!(!is_text(&spec));
    }

    #[test]
    fn the_warning_names_the_source_and_the_fix() {
        let w = warning(&Source::File("/etc/tofurkey.key".into()));
        assert!(
            w.starts_with("main key file /etc/tofurkey.key is text, as 'openssl rand -hex 32'"),
            "{w}"
        );
        for part in [
            "only its first 32 characters are the key (as in 1.3.4)",
            "128 bits of entropy if hex, 192 if base64, not 256",
            "'(umask 077; head -c 32 /dev/urandom > FILE)'",
            "'openssl rand 32 > FILE'",
            "on every host at once (README, \"Replacing the main key\")",
        ] {
            assert!(w.contains(part), "{part}: {w}");
        }
        assert!(!w.contains('\n'));
        // A credential is named by where the admin put it, not by the
        // copy systemd made for the run.
        let w = warning(&Source::Credential(
            "/run/credentials/tofurkey.service/tofurkey.key".into(),
        ));
        assert!(
            w.starts_with(
                "credential tofurkey.key (from /etc/credstore/tofurkey.key or \
                 /etc/credstore.encrypted/tofurkey.key) is text, "
            ),
            "{w}"
        );
        assert!(!w.contains("/run/credentials"), "{w}");
    }
}
