//! The journal's vocabulary, defined here once: how serious an entry is,
//! every event's MESSAGE_ID, every `TOFURKEY_*` field, and the entry that
//! carries them. A test checks that the catalog and the man page explain
//! each.

use std::borrow::Cow;

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
    /// The wall clock is not known to be synchronized (not synchronized,
    /// or its state unknown: `adjtimex` refused): the keys may differ from
    /// the fleet's. [`CLOCK_SYNCHRONIZED`] says which.
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
/// Journal field: the next main key's fingerprint, while a rollover is
/// configured.
pub const NEXT_KEY_ID: &str = "TOFURKEY_NEXT_KEY_ID";
/// Journal field: the unix time the next main key takes over.
pub const ROLLOVER_AT: &str = "TOFURKEY_ROLLOVER_AT";

/// Journal field: the TIPC master key's fingerprint, with `--tipc`.
pub const TIPC_KEY_ID: &str = "TOFURKEY_TIPC_KEY_ID";

/// Journal field: 1 if the kernel holds the wall clock synchronized, 0 if
/// not, -1 if its state could not be read.
pub const CLOCK_SYNCHRONIZED: &str = "TOFURKEY_CLOCK_SYNCHRONIZED";

/// Every journal field, for the catalog test.
pub const FIELDS: [&str; 17] = [
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
    NEXT_KEY_ID,
    ROLLOVER_AT,
    TIPC_KEY_ID,
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

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = include_str!("../../systemd/tofurkey.catalog");
    const MAN_PAGE: &str = include_str!("../../tofurkey.8");

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
}
