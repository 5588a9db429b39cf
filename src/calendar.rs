//! The systemd timer schedule: `OnCalendar=` lines that fire at every
//! half-interval boundary plus [`DELAY`], for `tofurkey --print-timer`.
//!
//! Pure, no I/O. Boundaries are unix times that are multiples of
//! `h = interval / 2`. A calendar expression can only describe a pattern
//! that repeats with the calendar, so `h` must divide one week (unix time 0
//! was a Thursday 00:00 UTC, so weeks line up with unix time); if it also
//! divides a day, the pattern repeats daily and no weekday is needed.
//!
//! The week's elapse times are split into hour, minute and second fields and
//! grouped bottom-up (seconds sharing a minute, minutes sharing a seconds
//! set, hours sharing both, weekdays sharing all three); each final group is
//! one expression, a cartesian product `WEEKDAYS *-*-* HOURS:MINUTES:SECONDS`.
//!
//! "A handful" is at most [`MAX_EVENTS`] (8) lines: the smallest limit that
//! takes every interval whose half divides an hour (at most 5 lines) or is a
//! whole number of minutes dividing a day (at most 8, for 32 minutes), and
//! the weekly ones that still read as a rule (604800 needs 2). Eight lines
//! can be checked by eye; past that the counts jump (9 to 120 for the other
//! divisors of a day, hundreds for most weekly ones), and nobody picks such an
//! interval on purpose. Those are refused, naming the nearest that work.

use std::collections::BTreeMap;
use std::fmt;

use crate::counters::{DEFAULT_INTERVAL, Interval, MAX_INTERVAL, MIN_INTERVAL};

/// Seconds after each boundary at which the timer fires: late enough that a
/// host whose clock lags by a little already computes the new pair.
pub const DELAY: u64 = 2;
/// Most `OnCalendar=` lines a drop-in may have; see the module doc.
pub const MAX_EVENTS: usize = 8;

const DAY: u64 = 86_400;
const WEEK: u64 = 7 * DAY;
/// Weekday names indexed by days since the epoch, modulo 7 (day 0 was a Thursday).
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

// The largest interval repeats weekly and the default one daily, so both
// have a short schedule.
const _: () = assert!(WEEK.is_multiple_of(MAX_INTERVAL / 2));
const _: () = assert!(DAY.is_multiple_of(DEFAULT_INTERVAL / 2));
// The delay stays before the next boundary, so the run lands in the right
// half; and `boundary + DELAY` of the week's last boundary stays in the week.
const _: () = assert!(DELAY < MIN_INTERVAL / 2);

/// An interval whose boundaries no handful of calendar lines can hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unexpressible {
    /// The interval asked for.
    pub interval: u64,
    /// The nearest working interval below, if any.
    pub below: Option<u64>,
    /// The nearest working interval above, if any.
    pub above: Option<u64>,
}

impl fmt::Display for Unexpressible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "interval {}: no list of at most {MAX_EVENTS} OnCalendar= lines hits its \
             half-interval boundaries (they must repeat daily or weekly in a short pattern)",
            self.interval
        )?;
        match (self.below, self.above) {
            (Some(b), Some(a)) => write!(f, "; nearest intervals that work: {b} and {a}"),
            (Some(x), None) | (None, Some(x)) => write!(f, "; nearest interval that works: {x}"),
            (None, None) => Ok(()),
        }
    }
}

impl Unexpressible {
    /// What the admin should do about it: the message names the intervals
    /// that work, so nothing more.
    pub fn fix(&self) -> Option<&'static str> {
        None
    }
}

/// The OnCalendar= expressions (each ending in " UTC") that elapse exactly at every
/// half-interval boundary + 2 s (unix time multiple of interval/2, plus 2 seconds), and nowhere else.
///
/// Fails with [`Unexpressible`] (naming the nearest intervals that
/// work) when the boundaries do not repeat weekly or need more than
/// [`MAX_EVENTS`] lines.
pub fn calendar_events(interval: Interval) -> Result<Vec<String>, Unexpressible> {
    events(interval.half()).ok_or_else(|| {
        // Search by half-interval, so every candidate is even.
        let (half, works) = (interval.half(), |h: &u64| events(*h).is_some());
        Unexpressible {
            interval: interval.secs(),
            below: (MIN_INTERVAL / 2..half).rev().find(works).map(|h| h * 2),
            above: (half + 1..=MAX_INTERVAL / 2).find(works).map(|h| h * 2),
        }
    })
}

/// The whole drop-in text for tofurkey.timer: a comment saying where to put it
/// (/etc/systemd/system/tofurkey.timer.d/interval.conf) and how it was made, then
/// "\[Timer\]", "OnCalendar=" (reset), then one "OnCalendar=..." line per event.
pub fn timer_dropin(interval: Interval) -> Result<String, Unexpressible> {
    let (i, h) = (interval.secs(), interval.half());
    let mut text = format!(
        "# tofurkey.timer for an interval of {i} s ('tofurkey --print-timer'; at each\n\
         # daemon-reload, tofurkey-generator puts it in place for the interval of\n\
         # /etc/default/tofurkey): runs tofurkey {DELAY} s after each key change (every\n\
         # unix time that is a multiple of {h}, UTC).\n\
         [Timer]\n\
         # The empty assignment drops every trigger: the packaged schedule, and the\n\
         # run at start, put back.\n\
         OnCalendar=\n\
         OnActiveSec=0\n"
    );
    for event in calendar_events(interval)? {
        text.push_str(&format!("OnCalendar={event}\n"));
    }
    Ok(text)
}

/// The expressions for half-interval `half`, or `None` if there is no short list.
fn events(half: u64) -> Option<Vec<String>> {
    // (`half` is at least 5 for any Interval; the 0 test just guards the `%`.)
    if half == 0 || !WEEK.is_multiple_of(half) {
        return None;
    }
    // Bit masks of field values (all below 60, so they fit a u64), grouped
    // bottom-up. The delay is added to the time before it is split into
    // fields, so an elapse is never placed in the wrong minute, hour or day;
    // and the week's last one stays in the week (DELAY < half), so nothing
    // wraps around to the week's start.
    let mut secs: BTreeMap<(u64, u64, u64), u64> = BTreeMap::new();
    for t in (DELAY..WEEK).step_by(usize::try_from(half).ok()?) {
        let (day, tod) = (t / DAY, t % DAY);
        *secs.entry((day, tod / 3600, tod / 60 % 60)).or_default() |= 1 << (tod % 60);
    }
    let mut mins: BTreeMap<(u64, u64, u64), u64> = BTreeMap::new();
    for ((day, hour, min), s) in secs {
        *mins.entry((day, hour, s)).or_default() |= 1 << min;
    }
    let mut hours: BTreeMap<(u64, u64, u64), u64> = BTreeMap::new();
    for ((day, hour, s), m) in mins {
        *hours.entry((day, m, s)).or_default() |= 1 << hour;
    }
    let mut days: BTreeMap<(u64, u64, u64), u64> = BTreeMap::new();
    for ((day, m, s), h) in hours {
        *days.entry((h, m, s)).or_default() |= 1 << day;
    }
    if days.len() > MAX_EVENTS {
        return None;
    }
    // Earliest time of day first, so the lines read in order.
    let mut groups: Vec<_> = days.into_iter().collect();
    groups.sort_by_key(|&((h, m, s), d)| {
        (
            h.trailing_zeros(),
            m.trailing_zeros(),
            s.trailing_zeros(),
            d.trailing_zeros(),
        )
    });
    let line = |((h, m, s), d): ((u64, u64, u64), u64)| {
        format!(
            "{}*-*-* {}:{}:{} UTC",
            weekdays(d),
            field(h, 23),
            field(m, 59),
            field(s, 59)
        )
    };
    Some(groups.into_iter().map(line).collect())
}

/// Weekday prefix (with its trailing space) for day mask `days`; empty for every day.
fn weekdays(days: u64) -> String {
    if days == (1 << 7) - 1 {
        return String::new();
    }
    // Listed Monday first, the way systemd normalizes them.
    let names: Vec<_> = (4..11)
        .map(|d| d % 7)
        .filter(|d| days & (1 << d) != 0)
        .filter_map(|d| WEEKDAYS.get(d))
        .copied()
        .collect();
    format!("{} ", names.join(","))
}

/// One time field in calendar syntax: `*`, `FIRST..LAST`, `FIRST/STEP` (to
/// the end of the field), `FIRST..LAST/STEP`, or a list `00,30`.
fn field(mask: u64, max: u64) -> String {
    let values: Vec<u64> = (0..=max).filter(|v| mask & (1 << v) != 0).collect();
    // Three or more evenly spaced values make a repetition.
    let step = match values.as_slice() {
        [a, b, _, ..] if values.windows(2).all(|w| w[1] - w[0] == b - a) => Some((*a, b - a)),
        _ => None,
    };
    let last = values.last().copied().unwrap_or(0);
    match step {
        Some((0, 1)) if last == max => "*".to_string(),
        Some((first, 1)) => format!("{first:02}..{last:02}"),
        Some((first, step)) if last + step > max => format!("{first:02}/{step}"),
        Some((first, step)) => format!("{first:02}..{last:02}/{step}"),
        None => {
            let list: Vec<_> = values.iter().map(|v| format!("{v:02}")).collect();
            list.join(",")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(i: u64) -> Result<Vec<String>, Unexpressible> {
        calendar_events(Interval::new(i).unwrap())
    }

    #[test]
    fn daily_patterns() {
        assert_eq!(events_of(10).unwrap(), ["*-*-* *:*:02/5 UTC"]);
        assert_eq!(events_of(3600).unwrap(), ["*-*-* *:00,30:02 UTC"]);
        assert_eq!(events_of(86_400).unwrap(), ["*-*-* 00,12:00:02 UTC"]);
        assert_eq!(events_of(172_800).unwrap(), ["*-*-* 00:00:02 UTC"]);
        assert_eq!(events_of(600).unwrap(), ["*-*-* *:00/5:02 UTC"]);
        assert_eq!(events_of(28_800).unwrap(), ["*-*-* 00/4:00:02 UTC"]);
    }

    #[test]
    fn pattern_over_several_minutes() {
        // h = 80: the minute/second pattern repeats every 4 minutes.
        assert_eq!(
            events_of(160).unwrap(),
            [
                "*-*-* *:00/4:02 UTC",
                "*-*-* *:01/4:22 UTC",
                "*-*-* *:02/4:42 UTC"
            ]
        );
    }

    #[test]
    fn weekly_patterns() {
        assert_eq!(
            events_of(604_800).unwrap(),
            ["Thu *-*-* 00:00:02 UTC", "Sun *-*-* 12:00:02 UTC"]
        );
        // h = 28 h: six boundaries a week, each on its own day.
        assert_eq!(events_of(201_600).unwrap().len(), 6);
    }

    /// Which intervals are refused, and the nearest ones named, is tested
    /// in tests/calendar.rs against systemd; here, the message.
    #[test]
    fn refusal_message() {
        assert_eq!(
            events_of(22).unwrap_err().to_string(),
            "interval 22: no list of at most 8 OnCalendar= lines hits its half-interval \
             boundaries (they must repeat daily or weekly in a short pattern); nearest \
             intervals that work: 20 and 24"
        );
    }

    #[test]
    fn every_round_interval_fits() {
        // Halves dividing an hour, and whole minutes dividing a day.
        let round = |h: u64| 3600 % h == 0 || (h.is_multiple_of(60) && DAY.is_multiple_of(h));
        for i in (10..=172_800).step_by(2).filter(|i| round(i / 2)) {
            assert!(events_of(i).is_ok(), "{i} refused");
        }
        assert_eq!(events_of(3840).unwrap().len(), MAX_EVENTS); // h = 32 min, the worst
        assert!(events_of(192).is_err()); // h = 96 s: 10 lines, and no fewer will do
    }

    #[test]
    fn dropin_text() {
        let text = timer_dropin(Interval::new(86_400).unwrap()).unwrap();
        assert!(text.starts_with("# tofurkey.timer for an interval of 86400 s ("));
        assert!(text.ends_with(
            "[Timer]\n# The empty assignment drops every trigger: the packaged schedule, and \
             the\n# run at start, put back.\nOnCalendar=\nOnActiveSec=0\nOnCalendar=*-*-* \
             00,12:00:02 UTC\n"
        ));
        assert!(timer_dropin(Interval::new(22).unwrap()).is_err());
    }

    #[test]
    fn fields() {
        assert_eq!(field(0b1, 59), "00");
        assert_eq!(field(0b101, 59), "00,02");
        assert_eq!(field((1 << 24) - 1, 23), "*");
        assert_eq!(field(0b1001001, 23), "00..06/3");
        assert_eq!(field(0b1110, 23), "01..03");
        assert_eq!(field(1 << 5 | 1 << 23, 23), "05,23");
        assert_eq!(field(0b1000_1000_1000_1000, 59), "03..15/4");
        assert_eq!(field(1 << 5 | 1 << 11 | 1 << 17 | 1 << 23, 23), "05/6");
        // Uneven gaps are a list, not a repetition of the first gap.
        assert_eq!(field(1 | 1 << 10 | 1 << 30, 59), "00,10,30");
        // A run from 0 that stops before the end is a range, not `*`.
        assert_eq!(field(0b11_1111, 59), "00..05");
        // One more step would land exactly on the field's last value (59):
        // "02/19" would add an event there, so the range is closed.
        assert_eq!(field(1 << 2 | 1 << 21 | 1 << 40, 59), "02..40/19");
        assert_eq!(weekdays(0b1001), "Thu,Sun ");
        assert_eq!(weekdays(0b111_1111), "");
    }
}
