//! Key counters: which keys are live at a moment, and when they change.
//!
//! Pure arithmetic, no I/O (the systemd schedule is in `calendar.rs`). The rules are tofurkey 1.3.4's, so that mixed
//! fleets compute the same counters at the same second:
//! `primary = now / I`; in the second half of an interval the backup is the
//! *next* key (`primary + 1`), in the first half the *previous* one
//! (`primary - 1`). The pair changes at every multiple of `I / 2`.

use std::fmt;

/// Smallest accepted rotation interval, in seconds.
pub const MIN_INTERVAL: u64 = 10;
/// Largest accepted rotation interval (one week), in seconds.
pub const MAX_INTERVAL: u64 = 604_800;
/// Default rotation interval (one day), in seconds.
pub const DEFAULT_INTERVAL: u64 = 86_400;
/// Earliest accepted unix time (1970-01-12): guards against an unset clock.
pub const MIN_TIME: u64 = 1_000_000;
/// Latest accepted unix time (year 5138): guards against a wild clock.
pub const MAX_TIME: u64 = 100_000_000_000;

// Halves must be whole seconds, or hosts would disagree on the boundary.
const _: () = assert!(MIN_INTERVAL.is_multiple_of(2) && MAX_INTERVAL.is_multiple_of(2));
const _: () = assert!(DEFAULT_INTERVAL.is_multiple_of(2));
const _: () = assert!(MIN_INTERVAL <= DEFAULT_INTERVAL && DEFAULT_INTERVAL <= MAX_INTERVAL);
// The smallest time over the largest interval still gives primary >= 1, so
// `primary - 1` can never underflow.
const _: () = assert!(MIN_TIME / MAX_INTERVAL >= 1);
// `next rotation` and `primary + 1` can never overflow.
const _: () = assert!(MAX_TIME.checked_add(MAX_INTERVAL).is_some());
const _: () = assert!(MIN_TIME < MAX_TIME);

/// An interval that breaks the rules: odd, or out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadInterval(pub u64);

impl fmt::Display for BadInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "interval {} is invalid: use an even number of seconds from {MIN_INTERVAL} to \
             {MAX_INTERVAL}",
            self.0
        )
    }
}

/// A time outside the accepted range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadTime(pub u64);

impl fmt::Display for BadTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "time {} is outside {MIN_TIME}..{MAX_TIME}", self.0)
    }
}

impl BadTime {
    /// What the admin should do about it.
    pub fn fix(&self) -> Option<&'static str> {
        Some("set the clock (or -T) to a real unix time")
    }
}

/// A rotation interval: even, and within [`MIN_INTERVAL`, `MAX_INTERVAL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval(u64);

impl Interval {
    /// The default interval, one day.
    pub const DEFAULT: Interval = Interval(DEFAULT_INTERVAL);

    /// Checks `secs` against the rules; the error says which rule failed.
    pub fn new(secs: u64) -> Result<Self, BadInterval> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&secs) || !secs.is_multiple_of(2) {
            return Err(BadInterval(secs));
        }
        Ok(Interval(secs))
    }

    /// The interval in seconds.
    pub const fn secs(self) -> u64 {
        self.0
    }

    /// Half the interval: the step at which the key pair changes.
    pub const fn half(self) -> u64 {
        self.0 / 2
    }
}

/// A unix time (seconds) within [`MIN_TIME`, `MAX_TIME`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnixTime(u64);

impl UnixTime {
    /// Checks `secs` against the accepted range.
    pub fn new(secs: u64) -> Result<Self, BadTime> {
        if !(MIN_TIME..=MAX_TIME).contains(&secs) {
            return Err(BadTime(secs));
        }
        Ok(UnixTime(secs))
    }

    /// The time in seconds since the epoch.
    pub const fn secs(self) -> u64 {
        self.0
    }
}

/// The key counters live at one moment, and when the pair next changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    /// The moment this schedule was computed for.
    pub now: UnixTime,
    /// The interval it was computed with.
    pub interval: Interval,
    /// Counter of the primary key (makes new cookies).
    pub primary: u64,
    /// Counter of the backup key (still accepted).
    pub backup: u64,
    /// Unix time of the next half-interval boundary, when the pair changes.
    pub next_rotation: u64,
}

impl Counters {
    /// Computes the counters for `now` with `interval`, exactly as 1.3.4 does.
    pub fn at(now: UnixTime, interval: Interval) -> Counters {
        let (t, i) = (now.secs(), interval.secs());
        let primary = t / i;
        // Second half of the interval: pre-announce the next key, so cookies
        // from hosts whose clocks run ahead are accepted. First half: keep
        // the previous key, for hosts (and cookies) from before the boundary.
        let backup = if t - primary * i >= interval.half() {
            primary + 1
        } else {
            primary - 1
        };
        let next_rotation = (t / interval.half() + 1) * interval.half();
        Counters {
            now,
            interval,
            primary,
            backup,
            next_rotation,
        }
    }

    /// Seconds from `now` until the pair changes (1 ..= interval/2).
    pub fn secs_to_rotation(&self) -> u64 {
        self.next_rotation - self.now.secs()
    }
}

/// A unix time shown as ISO 8601 UTC (`1970-01-12T13:46:40Z`).
///
/// Hand-written (Howard Hinnant's days-to-civil) rather than a date crate:
/// it is a dozen lines, and the only calendar math the tool needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc(pub u64);

/// The civil date of a count of days since 1970-01-01: (year, month, day).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, rem) = (self.0 / 86_400, self.0 % 86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(t: u64, i: u64) -> Counters {
        Counters::at(UnixTime::new(t).unwrap(), Interval::new(i).unwrap())
    }

    #[test]
    fn spec_vector_counters() {
        let s = sched(1_000_000, 86_400);
        assert_eq!((s.primary, s.backup), (11, 12));
        assert_eq!(s.next_rotation, 1_036_800);
    }

    #[test]
    fn exact_boundary_and_one_before() {
        // 12 * 86400 = 1036800: a full boundary starts K12 with K11 behind it.
        let s = sched(1_036_800, 86_400);
        assert_eq!(
            (s.primary, s.backup, s.next_rotation),
            (12, 11, 1_036_800 + 43_200)
        );
        let s = sched(1_036_799, 86_400);
        assert_eq!((s.primary, s.backup, s.next_rotation), (11, 12, 1_036_800));
        assert_eq!(s.secs_to_rotation(), 1);
    }

    #[test]
    fn half_boundary_and_one_before() {
        let half = 12 * 86_400 + 43_200;
        let s = sched(half, 86_400);
        assert_eq!(
            (s.primary, s.backup, s.next_rotation),
            (12, 13, half + 43_200)
        );
        let s = sched(half - 1, 86_400);
        assert_eq!((s.primary, s.backup, s.next_rotation), (12, 11, half));
    }

    #[test]
    fn timeline_of_spec() {
        // T0 [K0,K-1], T0.5 [K0,K1], T1 [K1,K0], T1.5 [K1,K2], with T0 = 100*I.
        let i = 3_600;
        let t0 = 1_000 * i;
        let pairs: Vec<_> = [0, i / 2, i, i + i / 2]
            .iter()
            .map(|d| {
                let s = sched(t0 + d, i);
                (s.primary, s.backup)
            })
            .collect();
        assert_eq!(
            pairs,
            [(1000, 999), (1000, 1001), (1001, 1000), (1001, 1002)]
        );
    }

    #[test]
    fn smallest_and_largest_values() {
        let s = sched(MIN_TIME, MAX_INTERVAL);
        assert_eq!((s.primary, s.backup), (1, 2)); // 1000000 - 604800 >= 302400
        let s = sched(MIN_TIME, MIN_INTERVAL);
        assert_eq!((s.primary, s.backup), (100_000, 99_999));
        let s = sched(MAX_TIME, MAX_INTERVAL);
        assert_eq!(s.primary, MAX_TIME / MAX_INTERVAL);
        assert!(s.next_rotation > MAX_TIME);
        let s = sched(MAX_TIME, MIN_INTERVAL);
        assert_eq!(
            (s.primary, s.backup, s.next_rotation),
            (10_000_000_000, 9_999_999_999, MAX_TIME + 5)
        );
    }

    #[test]
    fn interval_rules() {
        for ok in [10, 12, 3600, 86_400, 604_800] {
            assert_eq!(Interval::new(ok).unwrap().secs(), ok);
        }
        for bad in [0, 8, 9, 11, 3_601, 604_801, 604_802, u64::MAX] {
            assert!(Interval::new(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn refusals_say_the_rule() {
        assert_eq!(
            Interval::new(11).unwrap_err().to_string(),
            "interval 11 is invalid: use an even number of seconds from 10 to 604800"
        );
        assert_eq!(
            UnixTime::new(5).unwrap_err().to_string(),
            "time 5 is outside 1000000..100000000000"
        );
    }

    #[test]
    fn time_rules() {
        assert!(UnixTime::new(MIN_TIME - 1).is_err());
        assert!(UnixTime::new(MAX_TIME + 1).is_err());
        assert!(UnixTime::new(0).is_err());
        assert!(UnixTime::new(MIN_TIME).is_ok() && UnixTime::new(MAX_TIME).is_ok());
    }

    #[test]
    fn utc_formatting() {
        let utc = |secs| Utc(secs).to_string();
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_000_000), "1970-01-12T13:46:40Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_392_000), "2026-11-23T00:00:00Z");
        assert_eq!(utc(MAX_TIME), "5138-11-16T09:46:40Z");
        // Past year 9999 the year grows, and nothing is cut off.
        assert_eq!(utc(253_402_300_800), "10000-01-01T00:00:00Z");
        assert_eq!(utc(u64::MAX), "584554051223-11-09T07:00:15Z");
    }

    /// Every day from 1970 to past 2400 follows the one before by the
    /// Gregorian rules (leap years every 4, not every 100, every 400), so
    /// each century's and era's turn is exercised, not only sample dates.
    #[test]
    fn civil_days_follow_the_gregorian_calendar() {
        let leap =
            |y: u64| y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
        let mut want = (1970, 1, 1);
        for days in 0..160_000 {
            assert_eq!(civil_from_days(days), want, "day {days}");
            let (y, m, d) = want;
            let length = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            want = match (m, d) {
                (12, 31) => (y + 1, 1, 1),
                (_, d) if d == length => (y, m + 1, 1),
                _ => (y, m, d + 1),
            };
        }
        assert_eq!(want, (2408, 1, 25));
    }
}
