//! Checks the timer schedules against systemd's own calendar engine: for each
//! interval, the union of the elapses of the printed events must be exactly
//! the half-interval boundaries + 2 s, no more, no fewer.

use std::process::Command;

use tofurkey::calendar::{DELAY, Unexpressible, calendar_events, timer_dropin};
use tofurkey::counters::{Interval, MAX_INTERVAL, MIN_INTERVAL, Utc};

const DAY: u64 = 86_400;
const WEEK: u64 = 7 * DAY;
/// A Tuesday, mid-afternoon; not itself an elapse (checked), so "after the
/// base time" means the same to systemd and to us.
const BASE: u64 = 1_700_000_001;

fn interval(secs: u64) -> Interval {
    Interval::new(secs).expect("valid interval")
}

/// The elapses of `events` after `BASE`, up to and including `BASE + span`,
/// as ISO 8601 UTC strings (which sort chronologically), per systemd.
fn systemd_elapses(events: &[String], iterations: usize, span: u64) -> Vec<String> {
    let out = Command::new("systemd-analyze")
        .env("TZ", "UTC")
        .arg("calendar")
        .arg(format!("--iterations={iterations}"))
        .arg(format!("--base-time=@{BASE}"))
        .args(events)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run systemd-analyze ({e}): this test checks the timer events against \
                 systemd's calendar engine and cannot pass without it; install systemd"
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "systemd-analyze rejected {events:?}: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let end = Utc(BASE + span).to_string();
    let mut elapses: Vec<String> = stdout
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("Next elapse:") || l.starts_with("Iter. #"))
        .map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            // "Next elapse: Tue 2023-11-14 22:13:22 UTC" or "Iter. #2: ..."
            [_, _, _, date, time, "UTC"] => format!("{date}T{time}Z"),
            _ => panic!("unexpected systemd-analyze line: {l}"),
        })
        .filter(|t| *t <= end)
        .collect();
    elapses.sort();
    elapses
}

/// Checks one interval: every event, over a whole period of its pattern.
fn check(secs: u64) {
    let events = calendar_events(interval(secs)).unwrap_or_else(|e| panic!("{secs}: {e}"));
    let half = secs / 2;
    assert_ne!((BASE - DELAY) % half, 0, "BASE is an elapse of {secs}");
    // Events without a weekday repeat daily, the others weekly.
    let span = if DAY.is_multiple_of(half) { DAY } else { WEEK };
    let first = ((BASE - DELAY) / half + 1) * half + DELAY;
    let expected: Vec<String> = (first..=BASE + span)
        .step_by(usize::try_from(half).expect("small half"))
        .map(|t| Utc(t).to_string())
        .collect();
    // Each event elapses at most as often as all of them together; a
    // duplicate (two events at one time) would also show as a mismatch.
    let got = systemd_elapses(&events, expected.len(), span);
    if got != expected {
        let missing: Vec<_> = expected
            .iter()
            .filter(|t| !got.contains(t))
            .take(5)
            .collect();
        let extra: Vec<_> = got
            .iter()
            .filter(|t| !expected.contains(t))
            .take(5)
            .collect();
        panic!(
            "interval {secs} {events:?}: {} elapses, expected {}; missing {missing:?}, extra {extra:?}",
            got.len(),
            expected.len()
        );
    }
}

/// Every interval whose half divides a day and that `--print-timer`
/// accepts elapses where systemd says. (Which ones are refused, and what
/// the refusal says, is tested below.)
#[test]
fn every_accepted_daily_interval_matches_systemd() {
    let mut checked = Vec::new();
    for secs in (MIN_INTERVAL..=MAX_INTERVAL).step_by(2) {
        if DAY.is_multiple_of(secs / 2) && calendar_events(interval(secs)).is_ok() {
            check(secs);
            checked.push(secs);
        }
    }
    // Accepted, as the README promises: every half that divides an hour,
    // and every whole-minute half that divides a day.
    for secs in (MIN_INTERVAL..=2 * DAY).step_by(2) {
        let half = secs / 2;
        if 3600 % half == 0 || (half % 60 == 0 && DAY.is_multiple_of(half)) {
            assert!(checked.contains(&secs), "{secs} refused");
        }
    }
}

#[test]
fn weekly_intervals_match_systemd() {
    // Every interval whose half divides a week but not a day, and fits.
    for secs in [
        50_400,
        100_800,
        151_200,
        201_600,
        241_920,
        302_400,
        403_200,
        MAX_INTERVAL,
    ] {
        check(secs);
    }
}

#[test]
fn dropin_lists_the_events() {
    for secs in [10, 160, 3_600, 86_400, MAX_INTERVAL] {
        let text = timer_dropin(interval(secs)).expect("expressible");
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        // The empty assignment drops the run at start too: put back.
        let mut want = vec![
            "[Timer]".to_string(),
            "OnCalendar=".to_string(),
            "OnActiveSec=0".to_string(),
        ];
        let events = calendar_events(interval(secs)).expect("expressible");
        want.extend(events.iter().map(|e| format!("OnCalendar={e}")));
        assert_eq!(lines, want);
        let head = format!("# tofurkey.timer for an interval of {secs} s (");
        assert!(text.starts_with(&head));
    }
}

/// The (below, above) of a refusal.
fn refusal(secs: u64) -> (Option<u64>, Option<u64>) {
    match calendar_events(interval(secs)) {
        Err(Unexpressible {
            interval,
            below,
            above,
        }) if interval == secs => (below, above),
        other => panic!("{secs}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn refusals_name_the_nearest_working_intervals() {
    for (secs, near) in [
        (14, (Some(12), Some(16))),          // half 7 s: divides a week, not a day
        (22, (Some(20), Some(24))),          // half 11 s: divides neither
        (256, (Some(240), Some(288))),       // half 128 s: divides a day, but 120 lines
        (6_002, (Some(5_760), Some(7_200))), // half 3001 s: 48 min and 1 h work
        (345_600, (Some(302_400), Some(403_200))), // 4 days
        (600_000, (Some(403_200), Some(MAX_INTERVAL))),
    ] {
        assert_eq!(refusal(secs), near, "{secs}");
        let (below, above) = near;
        for ok in [below, above].into_iter().flatten() {
            assert!(calendar_events(interval(ok)).is_ok(), "{ok} refused");
        }
        // Nearest: nothing in between works either (small gaps only, to stay quick).
        if let (Some(b), Some(a)) = near
            && a - b <= 2_000
        {
            for between in (b + 2..a).step_by(2) {
                assert!(
                    calendar_events(interval(between)).is_err(),
                    "{between} works"
                );
            }
        }
    }
    assert!(timer_dropin(interval(22)).is_err());
}

#[test]
fn halves_that_do_not_divide_a_week_are_refused() {
    for secs in (MIN_INTERVAL..=4_000).step_by(2) {
        if !WEEK.is_multiple_of(secs / 2) {
            refusal(secs);
        }
    }
}
