//! `--check`: does the target hold the pair this host should hold now?
//! Pure: compares bytes read elsewhere with pairs derived here. The verdicts
//! and exit codes follow the monitoring-plugin convention.

use crate::counters::{Counters, UnixTime};
use crate::keys::{Form, Keys, pair_text};
use crate::tickets::{Schedule, TicketSet};

/// `--check`'s exit code when there is no verdict: the target or the key
/// could not be read, or the command line was wrong (monitoring convention).
pub const UNKNOWN_EXIT: u8 = 3;
/// `--check`'s exit code for what must be fixed now (monitoring convention).
pub const CRITICAL_EXIT: u8 = 2;

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
    /// ([`UNKNOWN_EXIT`] is for no verdict.)
    pub(crate) const fn exit_code(self) -> u8 {
        match self {
            Verdict::InSync => 0,
            Verdict::Previous | Verdict::Next => 1,
            Verdict::NeverSet | Verdict::Foreign | Verdict::Garbage => CRITICAL_EXIT,
        }
    }

    /// The verdict's line for an admin or a monitoring system, with its
    /// monitoring prefix (`OK:`, …); no key material.
    pub(crate) fn summary(self) -> &'static str {
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

/// Classifies `held` (procfs text, up to the newline) for `counters`.
pub fn classify<'a>(held: &[u8], main: impl Into<Keys<'a>>, counters: &Counters) -> Verdict {
    let main = main.into();
    let expected = pair_text(main, counters.primary, counters.backup);
    if held == expected.text() {
        return Verdict::InSync;
    }
    let half = counters.interval.half();
    let neighbour = |t: Option<u64>| {
        t.and_then(|t| UnixTime::new(t).ok())
            .map(|t| Counters::at(t, counters.interval))
            .is_some_and(|c| held == pair_text(main, c.primary, c.backup).text())
    };
    let now = counters.now.secs();
    if neighbour(now.checked_sub(half)) {
        return Verdict::Previous;
    }
    if neighbour(now.checked_add(half)) {
        return Verdict::Next;
    }
    // The kernel shows zeros until a key is set, and one key when only one
    // was (by an older tool, or by a kernel before 5.3).
    match Form::of(held) {
        Form::NeverSet | Form::Key => Verdict::NeverSet,
        Form::Pair => Verdict::Foreign,
        Form::Empty | Form::Other { .. } => Verdict::Garbage,
    }
}

/// What a ticket key output holds, compared with the set for now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketVerdict {
    /// Exactly the set for now.
    InSync,
    /// The previous interval's set: a rotation was missed.
    Previous,
    /// Nothing there: a file missing, or no running HAProxy that holds
    /// keys for its file.
    Missing,
    /// Anything else: another main key or interval, or not keys at all.
    Other,
    /// A key file another user owns or may read, whatever it holds.
    Exposed,
}

impl TicketVerdict {
    /// 0 OK, 1 WARNING, 2 CRITICAL, as [`Verdict::exit_code`].
    pub(crate) const fn exit_code(self) -> u8 {
        match self {
            TicketVerdict::InSync => 0,
            TicketVerdict::Previous => 1,
            TicketVerdict::Missing | TicketVerdict::Other | TicketVerdict::Exposed => CRITICAL_EXIT,
        }
    }

    /// The verdict's words, with its monitoring prefix; no key material.
    pub(crate) fn summary(self) -> &'static str {
        match self {
            TicketVerdict::InSync => "OK",
            TicketVerdict::Previous => {
                "WARNING (the previous interval's keys: a rotation was missed)"
            }
            TicketVerdict::Missing => "CRITICAL (missing: no file, or no HAProxy holding it)",
            TicketVerdict::Other => "CRITICAL (not the keys for now from this main key)",
            TicketVerdict::Exposed => {
                "CRITICAL (a key file another user owns or may read: others may read live \
                 ticket keys; the next run replaces it)"
            }
        }
    }
}

/// Classifies `held` (an output's bytes in its own form, `None` if missing)
/// against the set for `schedule` and the one before, in the form `form`
/// gives (e.g. [`TicketSet::nginx_files`]).
pub(crate) fn classify_tickets<'a, F: AsRef<[u8]>>(
    held: Option<&[u8]>,
    main: impl Into<Keys<'a>>,
    schedule: Schedule,
    form: fn(&TicketSet) -> F,
) -> TicketVerdict {
    let main = main.into();
    let Some(held) = held else {
        return TicketVerdict::Missing;
    };
    if held == form(&TicketSet::derive(main, schedule)).as_ref() {
        TicketVerdict::InSync
    } else if schedule
        .previous()
        .is_some_and(|p| held == form(&TicketSet::derive(main, p)).as_ref())
    {
        TicketVerdict::Previous
    } else {
        TicketVerdict::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::Interval;
    use crate::keys::MainKey;

    fn setup(t: u64) -> (MainKey, Counters) {
        let s = Counters::at(UnixTime::new(t).unwrap(), Interval::new(3600).unwrap());
        (MainKey::new([9; 32]), s)
    }

    fn text_at(main: &MainKey, t: u64) -> Vec<u8> {
        let s = Counters::at(UnixTime::new(t).unwrap(), Interval::new(3600).unwrap());
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
        let upper = text_at(&main, t).to_ascii_uppercase();
        assert_eq!(classify(&upper, &main, &s), Verdict::Garbage);
    }

    /// The verdicts for every kind of held set, in the layout `form` gives.
    fn ticket_verdicts_in<F: AsRef<[u8]>>(form: fn(&TicketSet) -> F) {
        use crate::counters::Interval;
        let main = MainKey::new([9; 32]);
        let at = |t| Schedule::at(UnixTime::new(t).unwrap(), Interval::new(3600).unwrap());
        let now = at(1_800_000_100);
        let held = |s| form(&TicketSet::derive(&main, s));
        let verdict = |h: Option<&[u8]>| classify_tickets(h, &main, now, form);
        assert_eq!(verdict(Some(held(now).as_ref())), TicketVerdict::InSync);
        let previous = now.previous().unwrap();
        assert_eq!(
            verdict(Some(held(previous).as_ref())),
            TicketVerdict::Previous
        );
        let next = at(1_800_000_100 + 3600);
        assert_eq!(verdict(Some(held(next).as_ref())), TicketVerdict::Other);
        assert_eq!(
            verdict(Some(held(previous.previous().unwrap()).as_ref())),
            TicketVerdict::Other
        );
        let other = form(&TicketSet::derive(&MainKey::new([8; 32]), now));
        assert_eq!(verdict(Some(other.as_ref())), TicketVerdict::Other);
        assert_eq!(verdict(Some(b"")), TicketVerdict::Other);
        assert_eq!(verdict(None), TicketVerdict::Missing);
        // The first set there is has no previous one: no underflow.
        let first = Schedule::at(
            UnixTime::new(1_000_000).unwrap(),
            Interval::new(604_800).unwrap(),
        );
        let v = classify_tickets(Some(b"x"), &main, first, form);
        assert_eq!(v, TicketVerdict::Other);
    }

    #[test]
    fn ticket_verdicts() {
        use crate::counters::Interval;
        ticket_verdicts_in(TicketSet::nginx_files);
        ticket_verdicts_in(TicketSet::haproxy_file);
        let main = MainKey::new([9; 32]);
        let now = Schedule::at(
            UnixTime::new(1_800_000_100).unwrap(),
            Interval::new(3600).unwrap(),
        );
        // nginx's and HAProxy's forms of one set differ: one is never
        // taken for the other.
        let set = TicketSet::derive(&main, now);
        assert_ne!(set.nginx_files()[..], set.haproxy_file()[..]);
        assert_eq!(
            [0, 1, 2, 2],
            [
                TicketVerdict::InSync,
                TicketVerdict::Previous,
                TicketVerdict::Missing,
                TicketVerdict::Other
            ]
            .map(TicketVerdict::exit_code)
        );
    }
}
