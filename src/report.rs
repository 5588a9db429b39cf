//! What a run says: each log entry (level, MESSAGE_ID, message, journal
//! fields), the `STATUS=` line, the `-V` line and the `--check` line.
//!
//! Pure: built from typed values, no I/O; `log.rs` and `notify.rs` send
//! what this makes. The journal's vocabulary — every MESSAGE_ID and every
//! `TOFURKEY_*` field — is defined here once; a test checks that the
//! catalog and the man page explain each.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

use zeroize::Zeroizing;

use crate::check::{TicketVerdict, UNKNOWN_EXIT, Verdict};
use crate::counters::{Counters, UnixTime, Utc};
use crate::keys::PairText;
use crate::tickets::Schedule;
use crate::timesync::ClockSync;

/// How serious an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Normal operation.
    Info,
    /// Works, but the admin should look (autokey mode, no mlockall).
    Warning,
    /// The run failed.
    Error,
}

/// Events with a journal MESSAGE_ID, explained in `systemd/tofurkey.catalog`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Keys were written and read back.
    KeysSet,
    /// Keys were computed; `-n` skipped the write.
    DryRun,
    /// A new local autokey was made: no cross-host sync.
    AutokeyCreated,
    /// An existing local autokey was used: no cross-host sync.
    AutokeyUsed,
    /// The wall clock is not synchronized: the keys may differ from the
    /// fleet's.
    ClockUnsynchronized,
    /// The run failed; keys in place are unchanged.
    Failure,
    /// `--check` result.
    Check,
}

impl Event {
    /// Every event, for the catalog test.
    pub const ALL: [Event; 7] = [
        Event::KeysSet,
        Event::DryRun,
        Event::AutokeyCreated,
        Event::AutokeyUsed,
        Event::ClockUnsynchronized,
        Event::Failure,
        Event::Check,
    ];

    /// The MESSAGE_ID (each made once with `journalctl --new-id128`).
    pub const fn message_id(self) -> &'static str {
        match self {
            Event::KeysSet => "d094ba3ca036456b86840348b07686ff",
            Event::DryRun => "ba908435ea5a4bbb85aaf2b1ef3123af",
            Event::AutokeyCreated => "a2fd2c25684942ed9a06fb322252348e",
            Event::AutokeyUsed => "1fb1109bf21f4377bbabcb5a9b665418",
            Event::ClockUnsynchronized => "03c33dc5e30049a889344fa8f59c1c3a",
            Event::Failure => "42ac2550bae64165a34538ef4617dfe5",
            Event::Check => "5862ce66ac6f4910a2a14bd22ebdde79",
        }
    }
}

/// Journal field: the run's unix time.
pub const UNIX_TIME: &str = "TOFURKEY_UNIX_TIME";
/// Journal field: the interval in seconds.
pub const INTERVAL: &str = "TOFURKEY_INTERVAL";
/// Journal field: the primary key's counter.
pub const CTR_PRIMARY: &str = "TOFURKEY_CTR_PRIMARY";
/// Journal field: the backup key's counter.
pub const CTR_BACKUP: &str = "TOFURKEY_CTR_BACKUP";
/// Journal field: the unix time of the next key change.
pub const NEXT_ROTATION: &str = "TOFURKEY_NEXT_ROTATION";
/// Journal field: where the main key came from.
pub const KEY_SOURCE: &str = "TOFURKEY_KEY_SOURCE";
/// Journal field: the file written.
pub const TARGET: &str = "TOFURKEY_TARGET";
/// Journal field: the main key's fingerprint.
pub const MAIN_KEY_ID: &str = "TOFURKEY_MAIN_KEY_ID";
/// Journal field: the key pair's fingerprint.
pub const KEYS_ID: &str = "TOFURKEY_KEYS_ID";
/// Journal field: `--check`'s exit code.
pub const CHECK_EXIT: &str = "TOFURKEY_CHECK_EXIT";
/// Journal field: the ticket key set's fingerprint.
pub const TICKETS_ID: &str = "TOFURKEY_TICKETS_ID";
/// Journal field: the current ticket key's counter.
pub const TICKET_CTR: &str = "TOFURKEY_TICKET_CTR";
/// Journal field: what the ticket outputs changed.
pub const TICKETS_CHANGED: &str = "TOFURKEY_TICKETS_CHANGED";

/// Journal field: 1 if the kernel holds the wall clock synchronized, else 0.
pub const CLOCK_SYNCHRONIZED: &str = "TOFURKEY_CLOCK_SYNCHRONIZED";

/// Every journal field, for the catalog test.
pub const FIELDS: [&str; 14] = [
    UNIX_TIME,
    INTERVAL,
    CTR_PRIMARY,
    CTR_BACKUP,
    NEXT_ROTATION,
    KEY_SOURCE,
    TARGET,
    MAIN_KEY_ID,
    KEYS_ID,
    CHECK_EXIT,
    TICKETS_ID,
    TICKET_CTR,
    TICKETS_CHANGED,
    CLOCK_SYNCHRONIZED,
];

/// A journal field's value. Numbers stay numbers and text is borrowed
/// until the entry is sent: a run that logs to stderr formats none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A number, shown in decimal.
    Num(u64),
    /// Text.
    Text(Cow<'a, str>),
}

impl From<u64> for Value<'_> {
    fn from(n: u64) -> Self {
        Value::Num(n)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(t: &'a str) -> Self {
        Value::Text(Cow::Borrowed(t))
    }
}

impl From<String> for Value<'_> {
    fn from(t: String) -> Self {
        Value::Text(Cow::Owned(t))
    }
}

/// Journal fields of one entry, besides MESSAGE and PRIORITY.
pub type Fields<'a> = Vec<(&'static str, Value<'a>)>;

/// One log entry: a line on stderr, or a structured journal entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// How serious it is.
    pub level: Level,
    /// Its MESSAGE_ID, if it is one of the events.
    pub event: Option<Event>,
    /// The one-line message.
    pub message: String,
    /// Journal fields.
    pub fields: Fields<'a>,
}

impl Entry<'_> {
    /// An entry with no event and no fields.
    pub fn plain(level: Level, message: String) -> Entry<'static> {
        Entry {
            level,
            event: None,
            message,
            fields: Fields::new(),
        }
    }
}

/// `-v`: where the main key comes from.
pub fn key_source(label: &str) -> Entry<'static> {
    Entry::plain(Level::Info, format!("main key from {label}"))
}

/// `-V`: the exact line 1.3.4 prints (scripts grep for it). It holds the
/// keys: wiped on drop.
pub fn keys_line(now: UnixTime, pair: &PairText) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "Generated ASCII TFO keys for procfs write: [{}] {}",
        now.secs(),
        String::from_utf8_lossy(pair.text())
    ))
}

/// The warning of every autokey run: no cross-host sync.
pub fn autokey(label: &str, created: bool) -> Entry<'_> {
    let (event, what) = match created {
        true => (Event::AutokeyCreated, "created a new random main key as"),
        false => (Event::AutokeyUsed, "using the main key in"),
    };
    Entry {
        level: Level::Warning,
        event: Some(event),
        message: format!(
            "{what} {label}: autokey mode gives no cross-host sync; give every host the same \
             key with -k or the credential tofurkey.key"
        ),
        fields: vec![(KEY_SOURCE, label.into())],
    }
}

/// What reached the running HAProxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    /// It is not running: nothing to push (it reads the file when it
    /// starts).
    NotRunning,
    /// Keys appended to its ring.
    Keys {
        /// How many (0 to 3; 0: it held the set already).
        count: usize,
        /// The ring held none of the set's keys: keys of another main key
        /// or tool (or three rotations missed), all replaced.
        foreign: bool,
    },
}

/// The warning of a run whose wall clock is not synchronized.
pub fn unsynchronized() -> Entry<'static> {
    Entry {
        level: Level::Warning,
        event: Some(Event::ClockUnsynchronized),
        message: "the system clock is not synchronized (the kernel's NTP state): its keys may \
                  not be the fleet's; keys set anyway: run a time daemon (systemd-timesyncd, \
                  chrony)"
            .to_string(),
        fields: vec![(CLOCK_SYNCHRONIZED, ClockSync::Unsynchronized.flag().into())],
    }
}

/// What the ticket outputs changed, output by output (`None`: not asked).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// nginx key files replaced (0 to 3).
    pub nginx: Option<usize>,
    /// Whether HAProxy's file was replaced.
    pub haproxy_file: Option<bool>,
    /// What reached the running HAProxy.
    pub haproxy_runtime: Option<Push>,
}

impl Written {
    /// `nginx 3 files replaced, HAProxy file unchanged, …`, or `None` when
    /// no output was written.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(n) = self.nginx {
            parts.push(match n {
                0 => "nginx files unchanged".to_string(),
                n => format!("nginx {n} of 3 files replaced"),
            });
        }
        if let Some(changed) = self.haproxy_file {
            parts.push(match changed {
                true => "HAProxy file replaced".to_string(),
                false => "HAProxy file unchanged".to_string(),
            });
        }
        if let Some(push) = self.haproxy_runtime {
            parts.push(match push {
                Push::NotRunning => "HAProxy not running: nothing pushed".to_string(),
                Push::Keys { count: 0, .. } => "running HAProxy already in sync".to_string(),
                Push::Keys { count: 1, .. } => "1 key pushed to the running HAProxy".to_string(),
                Push::Keys { count, .. } => format!("{count} keys pushed to the running HAProxy"),
            });
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// What a run did with ticket keys.
pub struct TicketOutcome<'a> {
    /// The schedule the set was derived for.
    pub schedule: Schedule,
    /// The set's fingerprint.
    pub tickets_id: &'a str,
    /// What changed (nothing with `-n`).
    pub written: Written,
}

/// What a key-setting run did, for its entry and its `STATUS=` line.
pub struct Outcome<'a> {
    /// The counters it computed.
    pub counters: &'a Counters,
    /// Where the main key came from (its label).
    pub source: &'a str,
    /// The file written (or, with `-n`, not written).
    pub target: &'a Path,
    /// The main key's fingerprint.
    pub main_id: &'a str,
    /// The pair's fingerprint.
    pub keys_id: &'a str,
    /// `-n`: nothing was written.
    pub dry_run: bool,
    /// The ticket keys, if any output was asked for.
    pub tickets: Option<TicketOutcome<'a>>,
    /// The kernel's word on the wall clock (`None`: it could not be read).
    pub clock: Option<ClockSync>,
}

impl Outcome<'_> {
    /// The run's entry: what was done, the counters, when they change next.
    pub fn entry(&self) -> Entry<'_> {
        let c = self.counters;
        let (now, next) = (c.now.secs(), c.next_rotation);
        let (event, what) = match self.dry_run {
            true => (Event::DryRun, "dry run (-n), keys not written"),
            false => (Event::KeysSet, "keys set"),
        };
        let mut m = format!(
            "{what}: time {now} ({}), interval {}, counters {} primary {} backup, next rotation \
             {next} ({}, in {} s), {}, main key id {}, keys id {}",
            Utc(now),
            c.interval.secs(),
            c.primary,
            c.backup,
            Utc(next),
            c.secs_to_rotation(),
            self.source,
            self.main_id,
            self.keys_id
        );
        let mut fields: Fields = Vec::with_capacity(FIELDS.len());
        fields.extend([
            (UNIX_TIME, now.into()),
            (INTERVAL, c.interval.secs().into()),
            (CTR_PRIMARY, c.primary.into()),
            (CTR_BACKUP, c.backup.into()),
            (NEXT_ROTATION, next.into()),
            (KEY_SOURCE, self.source.into()),
            (TARGET, Value::Text(self.target.to_string_lossy())),
            (MAIN_KEY_ID, self.main_id.into()),
            (KEYS_ID, self.keys_id.into()),
        ]);
        if let Some(sync) = self.clock {
            fields.push((CLOCK_SYNCHRONIZED, sync.flag().into()));
        }
        if let Some(t) = &self.tickets {
            let change = t.schedule.next_change();
            let _ = write!(
                m,
                "; ticket keys: counter {}, next change {change} ({}), tickets id {}",
                t.schedule.current,
                Utc(change),
                t.tickets_id
            );
            fields.push((TICKETS_ID, t.tickets_id.into()));
            fields.push((TICKET_CTR, t.schedule.current.into()));
            if let Some(s) = t.written.summary() {
                let _ = write!(m, ", {s}");
                fields.push((TICKETS_CHANGED, s.into()));
            }
        }
        Entry {
            level: Level::Info,
            event: Some(event),
            message: m,
            fields,
        }
    }

    /// The `STATUS=` line `systemctl status` shows.
    pub fn status(&self) -> String {
        let c = self.counters;
        let what = match self.dry_run {
            true => "Dry run",
            false => "Keys set",
        };
        let tickets = self
            .tickets
            .as_ref()
            .map_or(String::new(), |t| format!(", tickets id {}", t.tickets_id));
        let clock = match self.clock {
            Some(ClockSync::Unsynchronized) => ", clock not synchronized",
            _ => "",
        };
        format!(
            "{what}: counters {}/{}, next rotation {}, keys id {}{tickets}{clock}",
            c.primary,
            c.backup,
            Utc(c.next_rotation),
            self.keys_id
        )
    }
}

/// A failed run's entry and its `STATUS=` line; `message` is the error.
pub fn failure(message: &str) -> (Entry<'static>, String) {
    let entry = Entry {
        level: Level::Error,
        event: Some(Event::Failure),
        message: message.to_string(),
        fields: Fields::new(),
    };
    (entry, format!("Failed: {message}"))
}

/// What `--check` found, when it could compare.
pub struct Checked<'a> {
    /// The verdict.
    pub verdict: Verdict,
    /// The file read.
    pub target: &'a Path,
    /// The counters it compared against.
    pub counters: Counters,
    /// The main key's fingerprint.
    pub main_id: String,
    /// Where the main key came from (its label).
    pub source: String,
    /// Each ticket output's name and verdict.
    pub tickets: Vec<(String, TicketVerdict)>,
}

/// `--check`'s exit code and its one line: the verdict with what it was
/// compared against, or `UNKNOWN:` and why there is none.
pub fn check_line(result: Result<Checked, String>) -> (u8, String) {
    match result {
        Ok(c) => {
            let mut line = format!(
                "{} ({}, time {}, interval {}, counters {}/{}, main key id {}, {})",
                c.verdict.summary(),
                c.target.display(),
                c.counters.now.secs(),
                c.counters.interval.secs(),
                c.counters.primary,
                c.counters.backup,
                c.main_id,
                c.source
            );
            let mut code = c.verdict.exit_code();
            for (output, verdict) in &c.tickets {
                line.push_str(&format!("; {output}: {}", verdict.summary()));
                code = code.max(verdict.exit_code());
            }
            // The worst verdict leads the line, as monitoring reads it, in
            // place of the target's own (whose words stay).
            if code > c.verdict.exit_code() {
                let words = line.split_once(": ").map_or(line.as_str(), |(_, w)| w);
                line = format!(
                    "{}: {words}",
                    ["OK", "WARNING", "CRITICAL"][usize::from(code)]
                );
            }
            (code, line)
        }
        Err(why) => (UNKNOWN_EXIT, format!("UNKNOWN: {why}")),
    }
}

/// `--check`'s journal entry (under a monitoring unit): its line, and its
/// exit code as a field.
pub fn check_entry(code: u8, line: &str) -> Entry<'static> {
    Entry {
        level: if code == 0 {
            Level::Info
        } else {
            Level::Warning
        },
        event: Some(Event::Check),
        message: line.to_string(),
        fields: vec![(CHECK_EXIT, u64::from(code).into())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::Interval;
    use crate::keys::{MainKey, pair_text};

    const CATALOG: &str = include_str!("../systemd/tofurkey.catalog");
    const MAN_PAGE: &str = include_str!("../tofurkey.8");

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
            clock: Some(ClockSync::Synchronized),
        }
    }

    fn spec_counters() -> Counters {
        Counters::at(UnixTime::new(1_000_000).unwrap(), Interval::DEFAULT)
    }

    #[test]
    fn catalog_and_man_page_explain_every_event_and_field() {
        for event in Event::ALL {
            let id = event.message_id();
            assert!(
                CATALOG.contains(&format!("-- {id}\n")),
                "{event:?} not in the catalog"
            );
            assert!(
                MAN_PAGE.contains(id),
                "{event:?} ({id}) not in the man page"
            );
        }
        let entries = CATALOG.matches("\n-- ").count();
        assert_eq!(
            entries,
            Event::ALL.len(),
            "catalog entries for unknown events"
        );
        for field in FIELDS {
            assert!(CATALOG.contains(field), "{field} not in the catalog");
            // roff escapes nothing in these names.
            assert!(MAN_PAGE.contains(field), "{field} not in the man page");
        }
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
            clock: Some(ClockSync::Unsynchronized),
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
        let w = unsynchronized();
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
        let (entry, status) = failure("cannot read x: y");
        assert_eq!(
            (entry.level, entry.event),
            (Level::Error, Some(Event::Failure))
        );
        assert_eq!(status, "Failed: cannot read x: y");
    }

    #[test]
    fn check_lines() {
        let c = spec_counters();
        let checked = Checked {
            verdict: Verdict::Previous,
            target: Path::new("/t"),
            counters: c,
            main_id: "7ad202034d831e12".into(),
            source: "key file /k".into(),
            tickets: vec![],
        };
        let with_tickets = |tickets| Checked {
            verdict: Verdict::InSync,
            target: Path::new("/t"),
            counters: c,
            main_id: "7ad202034d831e12".into(),
            source: "key file /k".into(),
            tickets,
        };
        let (code, line) = check_line(Ok(with_tickets(vec![
            ("nginx tickets /n".into(), TicketVerdict::InSync),
            ("HAProxy tickets /h".into(), TicketVerdict::Previous),
        ])));
        assert_eq!(code, 1);
        assert!(line.starts_with("WARNING: the target holds the expected key pair (/t,"));
        assert!(line.ends_with(
            "key file /k); nginx tickets /n: OK; HAProxy tickets /h: WARNING (the previous \
             interval's keys: a rotation was missed)"
        ));
        let (code, line) = check_line(Ok(with_tickets(vec![(
            "nginx tickets /n".into(),
            TicketVerdict::Missing,
        )])));
        assert_eq!(code, 2);
        assert!(line.starts_with("CRITICAL: the target holds the expected key pair (/t,"));
        let (code, line) = check_line(Ok(with_tickets(vec![(
            "nginx tickets /n".into(),
            TicketVerdict::InSync,
        )])));
        assert_eq!(code, 0);
        assert!(line.starts_with("OK: the target"));
        let (code, line) = check_line(Ok(checked));
        assert_eq!(code, 1);
        assert_eq!(
            line,
            format!(
                "{} (/t, time 1000000, interval 86400, counters 11/12, main key id \
                 7ad202034d831e12, key file /k)",
                Verdict::Previous.summary()
            )
        );
        assert_eq!(
            check_line(Err("cannot read /t".into())),
            (3, "UNKNOWN: cannot read /t".to_string())
        );
        let e = check_entry(2, "CRITICAL: x");
        assert_eq!(
            (e.level, e.fields),
            (Level::Warning, vec![(CHECK_EXIT, Value::Num(2))])
        );
        assert_eq!(check_entry(0, "OK: x").level, Level::Info);
    }
}
