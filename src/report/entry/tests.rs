//! The run's entries: their words, fields and levels, for each outcome.

use super::*;
use crate::counters::Interval;
use crate::keys::{MainKey, pair_text};

/// The test vector's run: a key file, a synchronized clock, no tickets.
fn spec_outcome(c: &Counters) -> Outcome<'_> {
    Outcome {
        counters: c,
        source: "key file /k",
        target: Path::new("/t"),
        main_id: "7ad202034d831e12",
        keys_id: "3c6bf71f91f4ae4f",
        dry_run: false,
        tickets: None,
        clock: ClockSync::Synchronized,
        rollover: None,
        tipc: None,
    }
}

/// The test vector's counters.
pub(in crate::report) fn spec_counters() -> Counters {
    Counters::at(UnixTime::new(1_000_000).unwrap(), Interval::DEFAULT)
}

#[test]
fn the_ticket_outcome_in_the_entry_and_status() {
    let c = spec_counters();
    let schedule = Schedule::at(c.now, c.interval);
    let written = Written {
        nginx: Some(3),
        haproxy_file: Some(false),
        haproxy_runtime: Some(Push::Keys {
            count: 1,
            foreign: false,
        }),
    };
    let outcome = Outcome {
        tickets: Some(TicketOutcome {
            schedule,
            tickets_id: "18e865e338bc5e94",
            written,
        }),
        clock: ClockSync::Unsynchronized,
        ..spec_outcome(&c)
    };
    let e = outcome.entry();
    assert!(e.message.ends_with(
        "; ticket keys: counter 11, next change 1036800 (1970-01-13T00:00:00Z), tickets id \
         18e865e338bc5e94, nginx 3 of 3 files replaced, HAProxy file unchanged, 1 key \
         pushed to the running HAProxy"
    ));
    let names: Vec<_> = e.fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names[9..],
        [CLOCK_SYNCHRONIZED, TICKETS_ID, TICKET_CTR, TICKETS_CHANGED]
    );
    assert_eq!(e.fields[9].1, "0".into());
    assert_eq!(e.fields[11].1, Value::Num(11));
    assert!(
        outcome
            .status()
            .ends_with(", tickets id 18e865e338bc5e94, clock not synchronized")
    );
    let w = unsynchronized(false);
    assert_eq!(
        (w.level, w.event),
        (Level::Warning, Some(Event::ClockUnsynchronized))
    );
    assert_eq!(Written::default().summary(), None);
    let none_changed = Written {
        nginx: Some(0),
        haproxy_file: None,
        haproxy_runtime: Some(Push::Keys {
            count: 0,
            foreign: false,
        }),
    };
    assert_eq!(
        none_changed.summary().as_deref(),
        Some("nginx files unchanged, running HAProxy already in sync")
    );
    let stopped = Written {
        haproxy_runtime: Some(Push::NotRunning),
        ..Written::default()
    };
    assert_eq!(
        stopped.summary().as_deref(),
        Some("HAProxy not running: nothing pushed")
    );
}

/// A clock not known to be synchronized: not synchronized, or its
/// state unknown, each one warning of the same event, its field saying
/// which (0, -1), and in the run's entry and STATUS; a dry run's
/// warning does not say it set the keys.
#[test]
fn the_clock_warnings_follow_the_state_and_the_run() {
    for dry_run in [false, true] {
        for (w, flag) in [
            (unsynchronized(dry_run), "0"),
            (clock_unknown("Operation not permitted", dry_run), "-1"),
        ] {
            assert_eq!(
                (w.level, w.event),
                (Level::Warning, Some(Event::ClockUnsynchronized))
            );
            assert_eq!(w.fields, vec![(CLOCK_SYNCHRONIZED, flag.into())]);
            assert_eq!(
                w.message.contains("keys set anyway"),
                !dry_run,
                "{}",
                w.message
            );
            assert_eq!(
                w.message.contains("(a dry run: nothing set)"),
                dry_run,
                "{}",
                w.message
            );
        }
    }
    let w = clock_unknown("Operation not permitted", false);
    assert!(w.message.starts_with(
        "whether the system clock is synchronized is unknown (adjtimex: Operation not \
         permitted): its keys may not be the fleet's; keys set anyway: allow the adjtimex"
    ));
    assert_eq!(
        unsynchronized(true).message,
        "the system clock is not synchronized (the kernel's NTP state): its keys may not be \
         the fleet's (a dry run: nothing set): run a time daemon (systemd-timesyncd, chrony)"
    );
    let c = spec_counters();
    let unknown = Outcome {
        clock: ClockSync::Unknown,
        ..spec_outcome(&c)
    };
    assert_eq!(unknown.entry().fields[9], (CLOCK_SYNCHRONIZED, "-1".into()));
    assert!(unknown.status().ends_with(", clock state unknown"));
}

#[test]
fn the_run_entry_and_status() {
    let c = spec_counters();
    let outcome = spec_outcome(&c);
    let e = outcome.entry();
    assert_eq!((e.level, e.event), (Level::Info, Some(Event::KeysSet)));
    assert_eq!(
        e.message,
        "keys set: time 1000000 (1970-01-12T13:46:40Z), interval 86400, counters 11 \
         primary 12 backup, next rotation 1036800 (1970-01-13T00:00:00Z, in 36800 s), key \
         file /k, main key id 7ad202034d831e12, keys id 3c6bf71f91f4ae4f"
    );
    let names: Vec<_> = e.fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(names[..9], FIELDS[..9]);
    assert_eq!(e.fields[9], (CLOCK_SYNCHRONIZED, "1".into()));
    assert_eq!(e.fields[2], (CTR_PRIMARY, Value::Num(11)));
    assert_eq!(e.fields[6], (TARGET, "/t".into()));
    assert_eq!(
        outcome.status(),
        "Keys set: counters 11/12, next rotation 1970-01-13T00:00:00Z, keys id 3c6bf71f91f4ae4f"
    );
    let dry = Outcome {
        dry_run: true,
        ..outcome
    };
    assert_eq!(dry.entry().event, Some(Event::DryRun));
    assert!(
        dry.entry()
            .message
            .starts_with("dry run (-n), keys not written: ")
    );
    assert!(dry.status().starts_with("Dry run: "));
}

#[test]
fn the_other_lines() {
    let mut key = [0u8; 32];
    hex::decode_to_slice(
        "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b",
        &mut key,
    )
    .unwrap();
    let pair = pair_text(&MainKey::new(key), 11, 12);
    assert_eq!(
        *keys_line(UnixTime::new(1_000_000).unwrap(), &pair),
        "Generated ASCII TFO keys for procfs write: [1000000] \
         c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577"
    );
    let made = autokey("autokey /a", true);
    assert_eq!(
        (made.level, made.event),
        (Level::Warning, Some(Event::AutokeyCreated))
    );
    assert!(
        made.message
            .starts_with("created a new random main key as autokey /a: ")
    );
    let used = autokey("autokey /a", false);
    assert_eq!(used.event, Some(Event::AutokeyUsed));
    assert!(
        used.message
            .starts_with("using the main key in autokey /a: autokey mode")
    );
    assert_eq!(set_anyway(false, &Written::default(), None), None);
    let file = Written {
        haproxy_file: Some(true),
        ..Written::default()
    };
    assert_eq!(
        set_anyway(false, &file, None).as_deref(),
        Some("HAProxy file replaced")
    );
    assert_eq!(
        set_anyway(true, &file, None).as_deref(),
        Some("TFO keys, HAProxy file replaced")
    );
    assert_eq!(
        set_anyway(true, &Written::default(), None).as_deref(),
        Some("TFO keys")
    );
    let tipc = Applied {
        id: "0123456789abcdef".into(),
        key_set: true,
        rekeying_set: Some(60),
    };
    assert_eq!(
        set_anyway(false, &file, Some(&tipc)).as_deref(),
        Some(
            "HAProxy file replaced, TIPC master key id 0123456789abcdef set, rekeying every 60 \
             min set"
        )
    );
    let (entry, status) = failure("cannot read x: y");
    assert_eq!(
        (entry.level, entry.event),
        (Level::Error, Some(Event::Failure))
    );
    assert_eq!(status, "Failed: cannot read x: y");
}

#[test]
fn a_rollover_in_the_entry_and_status_and_its_done_warning() {
    let c = spec_counters();
    let next = NextKeyInfo {
        id: "0123456789abcdef".into(),
        at: 1_036_800,
    };
    let outcome = Outcome {
        rollover: Some(&next),
        ..spec_outcome(&c)
    };
    let e = outcome.entry();
    assert!(
        e.message
            .contains(", next main key id 0123456789abcdef from 1036800 (1970-01-13T00:00:00Z)"),
        "{}",
        e.message
    );
    assert!(e.fields.contains(&(NEXT_KEY_ID, "0123456789abcdef".into())));
    assert!(e.fields.contains(&(ROLLOVER_AT, Value::Num(1_036_800))));
    // The main key id stays the current key's.
    assert!(e.fields.contains(&(MAIN_KEY_ID, "7ad202034d831e12".into())));
    assert!(
        outcome
            .status()
            .contains(", next main key id 0123456789abcdef from 1970-01-13T00:00:00Z"),
        "{}",
        outcome.status()
    );
    // Without a rollover, neither.
    let plain = spec_outcome(&c);
    let names: Vec<_> = plain.entry().fields.iter().map(|(k, _)| *k).collect();
    assert!(!names.contains(&NEXT_KEY_ID) && !names.contains(&ROLLOVER_AT));
    assert!(!plain.status().contains("next main key"));
    let done = rollover_done(&next);
    assert_eq!(done.level, Level::Warning);
    assert!(
        done.message
            .contains("is done: make the next key the main key")
    );
    assert!(!done.message.contains('\n'));
}

#[test]
fn the_tipc_outcome_in_the_entry_and_status() {
    let c = spec_counters();
    let applied = Applied {
        id: "0123456789abcdef".into(),
        key_set: false,
        rekeying_set: None,
    };
    let outcome = Outcome {
        tipc: Some(&applied),
        ..spec_outcome(&c)
    };
    let entry = outcome.entry();
    assert!(
        entry
            .message
            .ends_with("; TIPC master key id 0123456789abcdef in place"),
        "{}",
        entry.message
    );
    assert!(
        entry.fields.iter().any(|(name, value)| *name == TIPC_KEY_ID
            && *value == Value::Text("0123456789abcdef".into()))
    );
    assert!(outcome.status().contains(", TIPC key id 0123456789abcdef"));
    // Without --tipc, no word of it.
    assert!(!spec_outcome(&c).entry().message.contains("TIPC"));
}
