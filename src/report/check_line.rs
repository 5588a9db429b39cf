//! `--check`'s one line and exit code (the verdicts with what they were
//! compared against, the worst leading), and its journal entry.

use std::path::Path;

use super::vocabulary::*;
use crate::check::{TicketVerdict, Verdict};
use crate::counters::Counters;

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
    /// The settings file the options came from, if they did.
    pub settings: Option<&'a Path>,
    /// Each ticket output's name and verdict.
    pub tickets: Vec<(String, TicketVerdict)>,
}

/// The monitoring label of each exit code.
const LABELS: [&str; 4] = ["OK", "WARNING", "CRITICAL", "UNKNOWN"];

/// `--check`'s exit code and its one line: the verdict with what it was
/// compared against; or, when it stopped before comparing, the exit code
/// it stopped with (UNKNOWN, or CRITICAL for what every run refuses) and
/// why.
pub fn check_line(result: Result<Checked, (u8, String)>) -> (u8, String) {
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
            if let Some(file) = c.settings {
                // Inside the parenthesis: which settings were compared against.
                line.pop();
                line.push_str(&format!(", settings {})", file.display()));
            }
            let mut code = c.verdict.exit_code();
            for (output, verdict) in &c.tickets {
                line.push_str(&format!("; {output}: {}", verdict.summary()));
                code = code.max(verdict.exit_code());
            }
            // The worst verdict leads the line, as monitoring reads it, in
            // place of the target's own (whose words stay).
            if code > c.verdict.exit_code() {
                let words = line.split_once(": ").map_or(line.as_str(), |(_, w)| w);
                line = format!("{}: {words}", LABELS[usize::from(code)]);
            }
            (code, line)
        }
        Err((code, why)) => {
            let label = LABELS.get(usize::from(code)).unwrap_or(&"UNKNOWN");
            (code, format!("{label}: {why}"))
        }
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
    use crate::check::UNKNOWN_EXIT;
    use crate::report::entry::tests::spec_counters;

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
            settings: None,
        };
        let with_tickets = |tickets| Checked {
            verdict: Verdict::InSync,
            target: Path::new("/t"),
            counters: c,
            main_id: "7ad202034d831e12".into(),
            source: "key file /k".into(),
            tickets,
            settings: Some(Path::new("/etc/default/tofurkey")),
        };
        let (code, line) = check_line(Ok(with_tickets(vec![
            ("nginx tickets /n".into(), TicketVerdict::InSync),
            ("HAProxy tickets /h".into(), TicketVerdict::Previous),
        ])));
        assert_eq!(code, 1);
        assert!(line.starts_with("WARNING: the target holds the expected key pair (/t,"));
        assert!(line.ends_with(
            "key file /k, settings /etc/default/tofurkey); nginx tickets /n: OK; HAProxy \
             tickets /h: WARNING (the previous interval's keys: a rotation was missed)"
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
            check_line(Err((UNKNOWN_EXIT, "cannot read /t".into()))),
            (3, "UNKNOWN: cannot read /t".to_string())
        );
        assert_eq!(
            check_line(Err((2, "main key file /k has mode 0640".into()))),
            (2, "CRITICAL: main key file /k has mode 0640".to_string())
        );
        let e = check_entry(2, "CRITICAL: x");
        assert_eq!(
            (e.level, e.fields),
            (Level::Warning, vec![(CHECK_EXIT, Value::Num(2))])
        );
        assert_eq!(check_entry(0, "OK: x").level, Level::Info);
    }
}
