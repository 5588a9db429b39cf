//! `--check`'s flow: it opens what a run opens, in the same order and under
//! the same refusals, reads the key with signals held, compares and writes
//! nothing; its one line and exit code are a monitoring plugin's.

use super::{counters_and_source, main_keys, open_next, read_next};
use crate::check::UNKNOWN_EXIT;
use crate::error::Error;
use crate::hygiene::{self, SignalGuard};
use crate::keysource::{self, Purpose};
use crate::log::{self, Log};
use crate::options::{Options, Settings};
use crate::outputs::TicketOutputs;
use crate::procfs::Target;
use crate::report::{self, Checked};
use crate::tickets::Schedule;

/// What `--check` found: its exit code (a monitoring one: 0 OK, 1
/// WARNING, 2 CRITICAL, 3 UNKNOWN) and its one line.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// The monitoring exit code.
    pub exit: u8,
    /// The verdict's line, as the journal entry has it.
    pub line: String,
}

impl CheckReport {
    /// The line for stdout: escaped, so that it stays one line whatever a
    /// path holds.
    pub fn stdout(&self) -> String {
        format!("{}\n", log::escape(&self.line))
    }
}

/// `--check`: compares, writes nothing; under systemd (a monitoring unit)
/// also a structured journal entry.
pub fn check(options: &Options) -> CheckReport {
    hygiene::harden();
    let result = check_keys(options).map_err(|e| (e.check_exit(), e.to_string()));
    let (exit, line) = report::check_line(result);
    let log = Log::new(false);
    if log.to_journal() {
        log.send(&report::check_entry(exit, &line));
    }
    CheckReport { exit, line }
}

/// `--check`'s answer to a command line it could not parse: UNKNOWN.
pub fn check_usage_error(e: &Error) -> CheckReport {
    CheckReport {
        exit: UNKNOWN_EXIT,
        line: format!("UNKNOWN: {e}"),
    }
}

/// Reads the target, the ticket outputs and the key, and compares.
fn check_keys(options: &Options) -> Result<Checked<'_>, Error> {
    let (counters, source) = counters_and_source(options)?;
    let target = Target::open_read(&options.target)?;
    let outputs = TicketOutputs::open(&options.tickets)?;
    // Warnings (a key others can read) would be a second line: monitoring
    // reads one. The key-setting runs report them. A refusal is as a run's.
    let purpose = Purpose::check(!outputs.is_empty());
    let (opened, mut warnings) = keysource::open(&source, purpose)?;
    let next = open_next(options, purpose, &mut warnings)?;
    drop(warnings);
    let _signals = SignalGuard::block().map_err(Error::SignalMask)?;
    let mut loaded = opened.read()?;
    // Warnings would be a second line (see above).
    let next = read_next(next, &loaded.key, &mut loaded.warnings)?;
    let main_keys = main_keys(&loaded.key, next.as_ref());
    let held = target.read()?;
    let schedule = Schedule::at(counters.now, counters.interval);
    Ok(Checked {
        verdict: crate::check::classify(&held, main_keys, &counters),
        tickets: outputs.check(main_keys, schedule)?,
        target: &options.target,
        counters,
        main_id: loaded.key.fingerprint(),
        source: source.label(),
        settings: match &options.settings {
            Settings::File(path) => Some(path),
            Settings::CommandLine | Settings::Unnamed => None,
        },
    })
}
