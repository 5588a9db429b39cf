//! Logging: plain `info:`/`warning:`/`error:` lines on stderr, or, when
//! stderr is the journal (`$JOURNAL_STREAM` names it), native structured
//! entries with a MESSAGE_ID per event and the `TOFURKEY_*` fields. What
//! is said is made in `report/`; this sends it.
//!
//! Callers pass only non-secret text; the one exception is the `-V` keys
//! line, which the operator asked for. Control characters in messages and
//! fields are escaped here, so that no path or value can add a line.
//! Nothing here fails a run: a line that cannot be written is lost.

use std::borrow::Cow;
use std::env;
use std::fmt::Write as _;
use std::io::{self, Write};

use libsystemd::logging::{self, Priority};

use crate::report::{Entry, Level, Value};

/// Where lines go, decided once per run.
pub struct Log {
    journal: bool,
    verbose: bool,
}

impl Log {
    /// Native journal logging if stderr is the journal, else stderr lines.
    pub fn new(verbose: bool) -> Log {
        // Without the variable, stderr is not the journal: libsystemd's
        // answer would only cost an error text nobody reads.
        let journal = env::var_os("JOURNAL_STREAM").is_some() && logging::connected_to_journal();
        Log { journal, verbose }
    }

    /// True when lines go to the journal as structured entries.
    pub fn to_journal(&self) -> bool {
        self.journal
    }

    /// Sends one entry: to the journal, or as a line on stderr.
    pub fn send(&self, entry: &Entry) {
        if self.journal && self.to_journald(entry) {
            return;
        }
        // Not on the journal, or it failed: stderr, so no line is lost.
        let prefix = match entry.level {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        };
        stderr_line(&format!("{prefix}: {}", escape(&entry.message)));
    }

    fn to_journald(&self, entry: &Entry) -> bool {
        let priority = match entry.level {
            Level::Info => Priority::Info,
            Level::Warning => Priority::Warning,
            Level::Error => Priority::Error,
        };
        let mut vars: Vec<(&str, &str)> = vec![("SYSLOG_IDENTIFIER", "tofurkey")];
        if let Some(e) = entry.event {
            vars.push(("MESSAGE_ID", e.message_id()));
        }
        let values: Vec<(&str, Cow<str>)> = entry
            .fields
            .iter()
            .map(|(k, v)| match v {
                Value::Num(n) => (*k, Cow::Owned(n.to_string())),
                Value::Text(t) => (*k, escape(t)),
            })
            .collect();
        vars.extend(values.iter().map(|(k, v)| (*k, v.as_ref())));
        logging::journal_send(priority, &escape(&entry.message), vars.into_iter()).is_ok()
    }

    /// An info line without an event.
    pub fn info(&self, msg: &str) {
        self.send(&Entry::plain(Level::Info, msg.to_string()));
    }

    /// An entry shown only with `-v`.
    pub fn verbose(&self, entry: &Entry) {
        if self.verbose {
            self.send(entry);
        }
    }

    /// A warning without an event.
    pub fn warn(&self, msg: &str) {
        self.send(&Entry::plain(Level::Warning, msg.to_string()));
    }
}

/// Writes one line to stderr in one `write(2)`, so that lines of runs
/// started together do not interleave. An error (a closed pipe, a full
/// disk) is ignored: the run's outcome does not depend on its log.
pub fn stderr_line(line: &str) {
    let _ = io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// `text` with control characters escaped as systemd escapes them (`\n`,
/// `\t`, `\x1b`; a backslash as `\\`), so that it stays one line and one
/// field wherever it goes: stderr, the journal, `STATUS=`, `--check`.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || c.is_control()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_one_line() {
        assert_eq!(escape("plain /path"), "plain /path");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("/x\ninfo: keys set\rREADY=1"),
            "/x\\ninfo: keys set\\rREADY=1"
        );
        assert_eq!(escape("a\tb\u{1b}[31mc\u{7f}"), "a\\tb\\x1b[31mc\\x7f");
        assert_eq!(escape("back\\slash"), "back\\\\slash");
        assert_eq!(escape("\u{85}next line"), "\\x85next line");
        assert_eq!(escape("ünïcödé"), "ünïcödé");
    }
}
