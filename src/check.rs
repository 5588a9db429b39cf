//! `--check`: does the target hold the pair this host should hold now?
//! Pure: compares bytes read elsewhere with pairs derived here. The verdicts
//! and exit codes follow the monitoring-plugin convention.

use crate::keys::{MainKey, PAIR_TEXT_LEN, never_set, pair_text};
use crate::schedule::{Schedule, UnixTime};

/// What the target holds, compared with what it should.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Exactly the expected pair.
    InSync,
    /// The pair of the previous half-interval: a tick was missed (or this
    /// clock is just past a boundary the last run had not reached).
    Previous,
    /// The pair of the next half-interval: the last run's clock was ahead.
    Next,
    /// Zeros or a single key: tofurkey never set this namespace.
    NeverSet,
    /// A well-formed pair from another main key or interval.
    Foreign,
    /// Something that is not a key pair.
    Garbage,
}

impl Verdict {
    /// The exit code: 0 OK, 1 WARNING (one half-step off), 2 CRITICAL.
    /// (3, UNKNOWN, is for a target or key that cannot be read.)
    pub const fn exit_code(self) -> u8 {
        match self {
            Verdict::InSync => 0,
            Verdict::Previous | Verdict::Next => 1,
            Verdict::NeverSet | Verdict::Foreign | Verdict::Garbage => 2,
        }
    }

    /// One line for an admin or a monitoring system; no key material.
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::InSync => "OK: the target holds the expected key pair",
            Verdict::Previous => {
                "WARNING: the target holds the previous half-interval's pair: a timer tick was missed"
            }
            Verdict::Next => {
                "WARNING: the target holds the next half-interval's pair: the last run's clock was ahead"
            }
            Verdict::NeverSet => {
                "CRITICAL: the target holds never-set keys (zeros or a single key): tofurkey has not run here"
            }
            Verdict::Foreign => {
                "CRITICAL: the target holds keys from another main key or interval: this host is out of sync"
            }
            Verdict::Garbage => "CRITICAL: the target does not hold a key pair",
        }
    }
}

/// Classifies `held` (procfs text, up to the newline) for `schedule`.
pub fn classify(held: &[u8], main: &MainKey, schedule: &Schedule) -> Verdict {
    let expected = pair_text(main, schedule.primary, schedule.backup);
    if held == expected.text() {
        return Verdict::InSync;
    }
    let half = schedule.interval.half();
    let neighbour = |t: Option<u64>| {
        t.and_then(|t| UnixTime::new(t).ok())
            .map(|t| Schedule::at(t, schedule.interval))
            .is_some_and(|s| held == pair_text(main, s.primary, s.backup).text())
    };
    let now = schedule.now.secs();
    if neighbour(now.checked_sub(half)) {
        return Verdict::Previous;
    }
    if neighbour(now.checked_add(half)) {
        return Verdict::Next;
    }
    // The kernel shows zeros until a key is set, and one key when only one
    // was (by an older tool, or by the kernel itself on first use).
    let zeros = never_set(held);
    let single = held.len() == (PAIR_TEXT_LEN - 1) / 2 && !held.contains(&b',');
    if zeros || single {
        Verdict::NeverSet
    } else if well_formed(held) {
        Verdict::Foreign
    } else {
        Verdict::Garbage
    }
}

/// `xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx,` twice over, lowercase hex.
fn well_formed(held: &[u8]) -> bool {
    held.len() == PAIR_TEXT_LEN
        && held.iter().enumerate().all(|(i, &b)| match i {
            35 => b == b',',
            _ if i % 36 % 9 == 8 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Interval;

    fn setup(t: u64) -> (MainKey, Schedule) {
        let s = Schedule::at(UnixTime::new(t).unwrap(), Interval::new(3600).unwrap());
        (MainKey::new([9; 32]), s)
    }

    fn text_at(main: &MainKey, t: u64) -> Vec<u8> {
        let s = Schedule::at(UnixTime::new(t).unwrap(), Interval::new(3600).unwrap());
        pair_text(main, s.primary, s.backup).text().to_vec()
    }

    #[test]
    fn verdicts() {
        let t = 1_800_000_000 + 100;
        let (main, s) = setup(t);
        assert_eq!(classify(&text_at(&main, t), &main, &s), Verdict::InSync);
        assert_eq!(
            classify(&text_at(&main, t - 1800), &main, &s),
            Verdict::Previous
        );
        assert_eq!(
            classify(&text_at(&main, t + 1800), &main, &s),
            Verdict::Next
        );
        assert_eq!(
            classify(&text_at(&main, t + 3600), &main, &s),
            Verdict::Foreign
        );
        let other = MainKey::new([8; 32]);
        assert_eq!(classify(&text_at(&other, t), &main, &s), Verdict::Foreign);
        let zeros = b"00000000-00000000-00000000-00000000,00000000-00000000-00000000-00000000";
        assert_eq!(classify(zeros, &main, &s), Verdict::NeverSet);
        assert_eq!(
            classify(b"00000000-00000000-00000000-00000000", &main, &s),
            Verdict::NeverSet
        );
        assert_eq!(
            classify(b"1a2b3c4d-1a2b3c4d-1a2b3c4d-1a2b3c4d", &main, &s),
            Verdict::NeverSet
        );
        assert_eq!(classify(b"", &main, &s), Verdict::Garbage);
        assert_eq!(classify(b"hello", &main, &s), Verdict::Garbage);
        let exit: Vec<u8> = [Verdict::InSync, Verdict::Previous, Verdict::Foreign]
            .iter()
            .map(|v| v.exit_code())
            .collect();
        assert_eq!(exit, [0, 1, 2]);
    }

    #[test]
    fn well_formed_pairs() {
        assert!(well_formed(
            b"c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577"
        ));
        assert!(!well_formed(
            b"C998252E-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577"
        ));
        assert!(!well_formed(
            b"c998252e-8f89667d-31961e08-3897526b;1c9ca1a5-9d295055-f8e3d4df-7107b577"
        ));
    }
}
