//! HAProxy's runtime API for ticket keys: the commands tofurkey sends and
//! what HAProxy's answers mean. Pure: `runtime.rs` does the talking.
//!
//! HAProxy keeps each `tls-ticket-keys` file's keys in a ring of three and
//! encrypts with the middle one. `show tls-keys FILE` lists the ring oldest
//! first — previous, current, next, as in the file — and
//! `set ssl tls-key FILE KEY` drops the oldest and appends KEY, so the one
//! after the old current key encrypts. A ring is brought to a set by
//! appending the set's keys that are not yet at its end.

use std::fmt;

use crate::tickets::{BASE64_LEN, SET_LEN};

/// HAProxy's answer to a command of a socket below admin level.
const DENIED: &[u8] = b"Permission denied";
/// HAProxy's answer when no `tls-ticket-keys` loaded the file named.
const UNKNOWN_FILE: &[u8] = b"unable to locate referenced filename";
/// HAProxy's answer to a key it took.
const UPDATED: &[u8] = b"TLS ticket key updated!";
/// The header of `show tls-keys FILE`.
const SHOW_HEADER: &[u8] = b"# id secret";

/// What an answer to `show tls-keys FILE` says.
#[derive(PartialEq, Eq)]
pub(super) enum Shown<'a> {
    /// The ring, oldest first (base64, as HAProxy prints it).
    Keys([&'a [u8]; SET_LEN]),
    /// Not an answer of HAProxy's runtime API.
    Refused(Refusal),
}

/// Names the variant only: the keys are secrets.
impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Keys(_) => f.write_str("Keys(<secret>)"),
            Shown::Refused(r) => write!(f, "Refused({r:?})"),
        }
    }
}

/// Why HAProxy (or what answered on its socket) did not do what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The socket's level is below admin.
    Denied,
    /// No `tls-ticket-keys` in HAProxy's configuration loaded the file.
    UnknownFile,
    /// The ring holds 48-byte keys (AES-128): HAProxy loaded another file.
    OtherKeySize,
    /// An answer that HAProxy's runtime API does not give.
    NotHaproxy,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Denied => "it refused: the socket is not at admin level",
            Refusal::UnknownFile => "no tls-ticket-keys in its configuration names the file",
            Refusal::OtherKeySize => "its keys for the file are not 80-byte keys",
            Refusal::NotHaproxy => "its answer is not HAProxy's runtime API",
        })
    }
}

impl Refusal {
    /// What the admin should do about it (printed after the message).
    pub(crate) fn fix(&self) -> Option<&'static str> {
        Some(match self {
            Refusal::Denied => "add 'level admin' to its 'stats socket' line",
            Refusal::UnknownFile => {
                "make a 'tls-ticket-keys' in haproxy.cfg name exactly this file, and reload \
                 HAProxy"
            }
            Refusal::OtherKeySize => "reload HAProxy: it loads the file tofurkey wrote",
            Refusal::NotHaproxy => "give the path of HAProxy's admin socket",
        })
    }
}

/// The command that lists the ring of `file`.
pub(super) fn show_command(file: &str) -> String {
    format!("show tls-keys {file}\n")
}

/// The command that appends `key` (base64) to the ring of `file`.
pub(super) fn set_command(file: &str, key: &[u8; BASE64_LEN]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut line = zeroize::Zeroizing::new(Vec::with_capacity(file.len() + BASE64_LEN + 20));
    line.extend_from_slice(b"set ssl tls-key ");
    line.extend_from_slice(file.as_bytes());
    line.push(b' ');
    line.extend_from_slice(key);
    line.push(b'\n');
    line
}

/// Reads an answer to [`show_command`]:
/// `# id secret`, `# ID (FILE)`, then `ID.0 KEY`, `ID.1 KEY`, `ID.2 KEY`.
pub(super) fn parse_show(answer: &[u8]) -> Shown<'_> {
    if let Some(refusal) = refusal(answer) {
        return Shown::Refused(refusal);
    }
    let mut lines = answer.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    if lines.next() != Some(SHOW_HEADER) || !lines.next().is_some_and(|l| l.starts_with(b"# ")) {
        return Shown::Refused(Refusal::NotHaproxy);
    }
    let mut keys: [&[u8]; SET_LEN] = [&[]; SET_LEN];
    for (i, slot) in keys.iter_mut().enumerate() {
        let Some(line) = lines.next() else {
            return Shown::Refused(Refusal::NotHaproxy);
        };
        let mut fields = line.splitn(2, |&b| b == b' ');
        let (id, key) = (
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
        );
        if !id.ends_with(format!(".{i}").as_bytes()) {
            return Shown::Refused(Refusal::NotHaproxy);
        }
        if key.len() != BASE64_LEN {
            // 48 bytes in base64: a ring of AES-128 keys.
            return Shown::Refused(match key.len() {
                64 => Refusal::OtherKeySize,
                _ => Refusal::NotHaproxy,
            });
        }
        *slot = key;
    }
    match lines.next() {
        None => Shown::Keys(keys),
        Some(_) => Shown::Refused(Refusal::NotHaproxy),
    }
}

/// Reads an answer to [`set_command`].
pub(super) fn parse_set(answer: &[u8]) -> Result<(), Refusal> {
    match refusal(answer) {
        Some(r) => Err(r),
        None if answer.trim_ascii() == UPDATED => Ok(()),
        None => Err(Refusal::NotHaproxy),
    }
}

/// The refusals HAProxy words the same for every command.
fn refusal(answer: &[u8]) -> Option<Refusal> {
    let answer = answer.trim_ascii();
    if answer == DENIED {
        Some(Refusal::Denied)
    } else if answer
        .windows(UNKNOWN_FILE.len())
        .any(|w| w == UNKNOWN_FILE)
    {
        Some(Refusal::UnknownFile)
    } else {
        None
    }
}

/// The keys of `want` (oldest first) to append, in order, so that a ring
/// holding `live` (oldest first) holds exactly `want`: none when it already
/// does, one per missed rotation, all three when nothing lines up.
pub(super) fn catch_up<'a, K: PartialEq + ?Sized>(
    live: &[&K; SET_LEN],
    want: &'a [&'a K; SET_LEN],
) -> &'a [&'a K] {
    // After appending `want[SET_LEN - m..]`, the ring is
    // `live[m..] ++ want[SET_LEN - m..]`: it is `want` when `live[m..]`
    // is `want[..SET_LEN - m]`.
    let m = (0..SET_LEN)
        .find(|&m| live[m..] == want[..SET_LEN - m])
        .unwrap_or(SET_LEN);
    &want[SET_LEN - m..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: u8) -> [u8; BASE64_LEN] {
        [c; BASE64_LEN]
    }

    fn show(keys: [&[u8; BASE64_LEN]; 3]) -> Vec<u8> {
        let mut a = b"# id secret\n# 0 (/run/tofurkey/haproxy.keys)\n".to_vec();
        for (i, k) in keys.iter().enumerate() {
            a.extend_from_slice(format!("0.{i} ").as_bytes());
            a.extend_from_slice(&k[..]);
            a.push(b'\n');
        }
        a.push(b'\n');
        a
    }

    #[test]
    fn show_answers() {
        let (a, b, c) = (key(b'A'), key(b'B'), key(b'C'));
        assert_eq!(
            parse_show(&show([&a, &b, &c])),
            Shown::Keys([&a[..], &b[..], &c[..]])
        );
        assert_eq!(
            parse_show(b"Permission denied\n\n"),
            Shown::Refused(Refusal::Denied)
        );
        assert_eq!(
            parse_show(b"'show tls-keys' unable to locate referenced filename\n\n"),
            Shown::Refused(Refusal::UnknownFile)
        );
        let short = b"# id secret\n# 0 (/k)\n0.0 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
        assert_eq!(parse_show(short), Shown::Refused(Refusal::OtherKeySize));
        let mut two = show([&a, &b, &c]);
        two.truncate(two.len() - BASE64_LEN - 6);
        assert_eq!(parse_show(&two), Shown::Refused(Refusal::NotHaproxy));
        let mut four = show([&a, &b, &c]);
        four.extend_from_slice(b"0.3 x\n");
        assert_eq!(parse_show(&four), Shown::Refused(Refusal::NotHaproxy));
        assert_eq!(
            parse_show(b"HTTP/1.1 400 Bad Request\r\n"),
            Shown::Refused(Refusal::NotHaproxy)
        );
        assert_eq!(parse_show(b""), Shown::Refused(Refusal::NotHaproxy));
        assert_eq!(
            parse_show(b"Unknown command: 'show'\n"),
            Shown::Refused(Refusal::NotHaproxy)
        );
    }

    #[test]
    fn debug_hides_the_keys() {
        let k = key(b'K');
        assert_eq!(
            format!("{:?}", Shown::Keys([&k[..], &k[..], &k[..]])),
            "Keys(<secret>)"
        );
    }

    #[test]
    fn set_answers() {
        assert_eq!(parse_set(b"TLS ticket key updated!\n\n"), Ok(()));
        assert_eq!(parse_set(b"Permission denied\n"), Err(Refusal::Denied));
        assert_eq!(
            parse_set(b"'set ssl tls-key' unable to locate referenced filename\n"),
            Err(Refusal::UnknownFile)
        );
        assert_eq!(
            parse_set(b"'set ssl tls-key' received a key of wrong size.\n"),
            Err(Refusal::NotHaproxy)
        );
        assert_eq!(parse_set(b""), Err(Refusal::NotHaproxy));
    }

    #[test]
    fn commands() {
        assert_eq!(show_command("/run/k"), "show tls-keys /run/k\n");
        let line = set_command("/run/k", &key(b'Q'));
        assert!(line.starts_with(b"set ssl tls-key /run/k QQQ"));
        assert_eq!(line.len(), "set ssl tls-key /run/k ".len() + BASE64_LEN + 1);
    }

    #[test]
    fn catching_up() {
        let k: Vec<[u8; 1]> = (0..8).map(|i| [i]).collect();
        let r = |a: usize, b: usize, c: usize| [&k[a][..], &k[b][..], &k[c][..]];
        let want = r(4, 5, 6);
        // In sync: nothing to send (a second run in the interval).
        assert!(catch_up(&r(4, 5, 6), &want).is_empty());
        // One rotation missed: the new next key.
        assert_eq!(catch_up(&r(3, 4, 5), &want), &want[2..]);
        // Two missed: the new current and next.
        assert_eq!(catch_up(&r(2, 3, 4), &want), &want[1..]);
        // Three or more missed, or keys tofurkey did not derive: all.
        assert_eq!(catch_up(&r(1, 2, 3), &want), &want[..]);
        assert_eq!(catch_up(&r(7, 7, 7), &want), &want[..]);
        // A clock that was ahead: the ring is "in the future"; all again.
        assert_eq!(catch_up(&r(5, 6, 7), &want), &want[..]);
        // Whatever the ring held, appending the keys gives `want`.
        for live in [r(3, 4, 5), r(2, 3, 4), r(0, 1, 2), r(6, 5, 4)] {
            let mut ring = live.to_vec();
            ring.extend_from_slice(catch_up(&live, &want));
            assert_eq!(ring[ring.len() - 3..], want);
        }
    }
}
