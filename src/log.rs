//! Logging: plain `info:`/`warning:`/`error:` lines on stderr, or, when
//! stderr is the journal (`$JOURNAL_STREAM` names it), native structured
//! entries with a MESSAGE_ID per event and the `TOFURKEY_*` fields.
//!
//! Callers pass only non-secret text; the one exception is the `-V` keys
//! line, which the operator asked for.

use libsystemd::logging::{self, Priority};

/// How serious a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Normal operation.
    Info,
    /// Works, but the admin should look (autokey mode, no mlockall).
    Warning,
    /// The run failed.
    Error,
}

/// Event kinds with a journal MESSAGE_ID, explained in tofurkey.catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Keys were written and read back.
    KeysSet,
    /// Keys were computed; `-n` skipped the write.
    DryRun,
    /// A new local autokey was made: no cross-host sync.
    AutokeyCreated,
    /// The run failed; keys in place are unchanged.
    Failure,
    /// `--check` result.
    Check,
}

impl Event {
    /// The MESSAGE_ID (made once with `journalctl --new-id128`).
    pub const fn message_id(self) -> &'static str {
        match self {
            Event::KeysSet => "d094ba3ca036456b86840348b07686ff",
            Event::DryRun => "ba908435ea5a4bbb85aaf2b1ef3123af",
            Event::AutokeyCreated => "a2fd2c25684942ed9a06fb322252348e",
            Event::Failure => "42ac2550bae64165a34538ef4617dfe5",
            Event::Check => "5862ce66ac6f4910a2a14bd22ebdde79",
        }
    }
}

/// Journal fields of one entry, besides MESSAGE and PRIORITY.
pub type Fields = Vec<(&'static str, String)>;

/// Where lines go, decided once per run.
pub struct Log {
    journal: bool,
    verbose: bool,
}

impl Log {
    /// Native journal logging if stderr is the journal, else stderr lines.
    pub fn new(verbose: bool) -> Log {
        Log {
            journal: logging::connected_to_journal(),
            verbose,
        }
    }

    /// True when lines go to the journal as structured entries.
    pub fn to_journal(&self) -> bool {
        self.journal
    }

    /// Emits one line (and, on the journal, its fields).
    pub fn emit(&self, level: Level, event: Option<Event>, msg: &str, fields: &Fields) {
        if self.journal && self.send(level, event, msg, fields) {
            return;
        }
        // Not on the journal, or it failed: stderr, so no line is lost.
        let prefix = match level {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        };
        eprintln!("{prefix}: {msg}");
    }

    fn send(&self, level: Level, event: Option<Event>, msg: &str, fields: &Fields) -> bool {
        let priority = match level {
            Level::Info => Priority::Info,
            Level::Warning => Priority::Warning,
            Level::Error => Priority::Error,
        };
        let mut vars: Vec<(&str, &str)> = vec![("SYSLOG_IDENTIFIER", "tofurkey")];
        if let Some(e) = event {
            vars.push(("MESSAGE_ID", e.message_id()));
        }
        vars.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
        logging::journal_send(priority, msg, vars.into_iter()).is_ok()
    }

    /// An info line without an event.
    pub fn info(&self, msg: &str) {
        self.emit(Level::Info, None, msg, &Fields::new());
    }

    /// An info line shown only with `-v`.
    pub fn verbose(&self, msg: &str) {
        if self.verbose {
            self.info(msg);
        }
    }

    /// A warning without an event.
    pub fn warn(&self, msg: &str) {
        self.emit(Level::Warning, None, msg, &Fields::new());
    }
}
