//! A run's policy: what a key-setting run and a `--check` open and in which
//! order, when signals are held, how the outputs' errors combine, what the
//! clock check adds, and which metrics a success and a failure publish.
//! `main.rs` parses and calls [`set`] or [`check`]; each returns what it
//! did as a typed value, whose exit code `main.rs` returns.

use std::env;
use std::path::Path;

use crate::check::UNKNOWN_EXIT;
use crate::clock;
use crate::counters::Counters;
use crate::error::Error;
use crate::fileio;
use crate::hygiene::{self, SignalGuard};
use crate::keys;
use crate::keysource::{self, Source};
use crate::log::{self, Log};
use crate::metrics::{self, Metrics};
use crate::notify;
use crate::options::Options;
use crate::outputs::TicketOutputs;
use crate::procfs::Target;
use crate::promfile;
use crate::report::{self, Checked, Outcome, TicketOutcome, Written};
use crate::tickets::{Schedule, TicketSet};
use crate::timesync::ClockSync;

/// What a key-setting run did.
#[derive(Debug)]
pub struct Report {
    /// The keys set (the metrics of the success), or why not.
    pub result: Result<Metrics, Error>,
    /// The metrics file, when one was asked for and a run wrote it (not a
    /// dry run): written, or why not.
    pub metrics: Option<Result<(), Error>>,
}

impl Report {
    /// 0 when every key asked for was set and the metrics written; else
    /// the worst error's code. A run that set the keys exits 0 even if
    /// its log could not be written.
    pub fn exit_code(&self) -> u8 {
        let run = self.result.as_ref().map_or_else(Error::exit_code, |_| 0);
        let metrics = match &self.metrics {
            Some(Err(e)) => e.exit_code(),
            _ => 0,
        };
        run.max(metrics)
    }
}

/// A key-setting run: sets the keys, logs the outcome, sends STATUS,
/// writes the metrics.
pub fn set(options: &Options) -> Report {
    let log = Log::new(options.verbose);
    for warning in hygiene::harden() {
        log.warn(&warning);
    }
    let result = set_keys(options, &log);
    match &result {
        Ok((status, _)) => {
            if let Some(Err(e)) = status.as_deref().map(notify::status) {
                log.warn(&format!("cannot send STATUS to systemd: {e}"));
            }
        }
        Err(e) => {
            let (entry, status) = report::failure(&e.to_string());
            log.send(&entry);
            let _ = notify::status(&status);
        }
    }
    let result = result.map(|(_, metrics)| metrics);
    let metrics = publish(options, &result);
    if let Some(Err(e)) = &metrics {
        log.send(&report::failure(&e.to_string()).0);
    }
    Report { result, metrics }
}

/// Writes the metrics of `result` where `--metrics` says; `None` when not
/// asked or a dry run (which writes nothing), or without a clock to date a
/// failure with.
fn publish(options: &Options, result: &Result<Metrics, Error>) -> Option<Result<(), Error>> {
    let path = options.metrics.as_ref().filter(|_| !options.dry_run)?;
    let metrics = match result {
        Ok(metrics) => metrics.clone(),
        Err(_) => failed_run_metrics(options, path)?,
    };
    Some(promfile::write(path, &metrics.render()).map_err(Error::Metrics))
}

/// The metrics of a failed run: its time, no keys, and the last success
/// the previous file recorded. `None` without a usable clock.
fn failed_run_metrics(options: &Options, path: &Path) -> Option<Metrics> {
    let now = options.time.map_or_else(clock::now, Ok).ok()?;
    let counters = Counters::at(now, options.interval);
    Some(Metrics {
        run: now.secs(),
        success: false,
        last_success: promfile::previous(path).and_then(|text| metrics::last_success(&text)),
        interval: options.interval.secs(),
        next_rotation: counters.next_rotation,
        keys: None,
        tickets_id: None,
        clock: clock::sync().ok(),
    })
}

/// The job: counters, main key, derive, write. Returns the STATUS line (if
/// systemd wants one) and the run's metrics.
fn set_keys(options: &Options, log: &Log) -> Result<(Option<String>, Metrics), Error> {
    let (counters, source) = counters_and_source(options)?;
    let schedule = Schedule::at(counters.now, counters.interval);
    let label = source.label();
    log.verbose(&report::key_source(&label));
    // Every output is opened and checked before a byte of key is read.
    let target = match options.dry_run {
        true => None,
        false => Some(Target::open(&options.target)?),
    };
    let outputs = TicketOutputs::open(&options.tickets)?;
    let (opened, key_warnings) = keysource::open(&source, true)?;
    for warning in &key_warnings {
        log.warn(warning);
    }

    // Signals are held from the first byte of key material to the last
    // wipe, and nothing in between logs or waits (but for a piped key and
    // HAProxy's bounded answers).
    let signals = SignalGuard::block().map_err(Error::SignalMask)?;
    let loaded = opened.read()?;
    let pair = keys::pair_text(&loaded.key, counters.primary, counters.backup);
    let set = (!outputs.is_empty()).then(|| TicketSet::derive(&loaded.key, schedule));
    let (main_id, created) = (loaded.key.fingerprint(), loaded.created);
    drop(loaded);
    let shown = options
        .show_keys
        .then(|| report::keys_line(counters.now, &pair));
    // Each output is written whatever became of the others.
    let mut errors = Vec::new();
    if let Some(Err(e)) = target.as_ref().map(|t| t.write(&pair)) {
        errors.push(Error::from(e));
    }
    let keys_id = pair.fingerprint();
    drop(pair);
    let tickets_id = set.as_ref().map(TicketSet::fingerprint);
    let (mut written, mut warnings) = (Written::default(), Vec::new());
    if let (Some(set), Some(id), false) = (&set, &tickets_id, options.dry_run) {
        let results = outputs.write(set, id, counters.now.secs());
        written = results.written;
        errors.extend(results.errors.into_iter().map(Error::from));
        warnings.extend(results.warnings);
    }
    drop(set);
    drop(signals);

    for warning in &warnings {
        log.warn(warning);
    }
    if let Some(line) = shown {
        log.info(&line);
    }
    // Every autokey run warns, whether or not its write worked.
    if let Source::Autokey(_) = source {
        log.send(&report::autokey(&label, created));
    }
    if let Some(e) = Error::combine(errors) {
        return Err(e);
    }
    let clock = clock_state(log);
    let outcome = Outcome {
        counters: &counters,
        source: &label,
        target: &options.target,
        main_id: &main_id,
        keys_id: &keys_id,
        dry_run: options.dry_run,
        tickets: tickets_id.as_deref().map(|id| TicketOutcome {
            schedule,
            tickets_id: id,
            written,
        }),
        clock,
    };
    log.send(&outcome.entry());
    let status = notify::wanted().then(|| outcome.status());
    let metrics = Metrics {
        run: counters.now.secs(),
        success: true,
        last_success: Some(counters.now.secs()),
        interval: counters.interval.secs(),
        next_rotation: counters.next_rotation,
        keys: Some((keys_id, main_id)),
        tickets_id,
        clock,
    };
    Ok((status, metrics))
}

/// The kernel's word on the wall clock, with a warning entry when it is
/// not synchronized. The keys are set whatever it says (the kernel's own
/// random key is no better); `None` when it cannot be read.
fn clock_state(log: &Log) -> Option<ClockSync> {
    match clock::sync() {
        Ok(ClockSync::Unsynchronized) => {
            log.send(&report::unsynchronized());
            Some(ClockSync::Unsynchronized)
        }
        Ok(sync) => Some(sync),
        Err(e) => {
            log.warn(&format!(
                "cannot read the clock's synchronization (adjtimex): {}; not checked",
                fileio::os_error(&e)
            ));
            None
        }
    }
}

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
    let (exit, line) = report::check_line(check_keys(options).map_err(|e| e.to_string()));
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
    // reads one. The key-setting runs report them.
    let (opened, _warnings) = keysource::open(&source, false)?;
    let _signals = SignalGuard::block().map_err(Error::SignalMask)?;
    let loaded = opened.read()?;
    let held = target.read()?;
    let schedule = Schedule::at(counters.now, counters.interval);
    Ok(Checked {
        verdict: crate::check::classify(&held, &loaded.key, &counters),
        tickets: outputs.check(&loaded.key, schedule)?,
        target: &options.target,
        counters,
        main_id: loaded.key.fingerprint(),
        source: source.label(),
    })
}

/// What both a run and a check start from: the counters for now (or `-T`)
/// and where the main key comes from.
fn counters_and_source(options: &Options) -> Result<(Counters, Source), Error> {
    let now = match options.time {
        Some(t) => t,
        None => clock::now()?,
    };
    let source = Source::choose(&options.key, env::var_os("CREDENTIALS_DIRECTORY"))?;
    Ok((Counters::at(now, options.interval), source))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::*;
    use crate::cli;
    use crate::options::Command;

    /// The 1.3.4 test vector: its main key, and the pair for time 1000000.
    const MAIN: &str = "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b";
    const PAIR: &str = "c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577";
    const OLD: &[u8] = b"0badc0de-0badc0de-0badc0de-0badc0de,feedface-feedface-feedface-feedface\0";

    /// A key file (0600), a target holding an old pair, and where the
    /// metrics go, in a temp dir of the test's own.
    struct Host {
        dir: tempfile::TempDir,
    }

    impl Host {
        fn new() -> Host {
            let dir = tempfile::tempdir().unwrap();
            let key = dir.path().join("main.key");
            fs::write(&key, hex::decode(MAIN).unwrap()).unwrap();
            fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
            fs::write(dir.path().join("target"), OLD).unwrap();
            Host { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        /// The options `args` parse to, after `-k KEY -P TARGET`.
        fn options(&self, args: &[&str]) -> Options {
            let mut all: Vec<OsString> = vec![
                "-k".into(),
                self.path("main.key").into(),
                "-P".into(),
                self.path("target").into(),
            ];
            all.extend(args.iter().map(OsString::from));
            match cli::parse(all).unwrap() {
                Command::Run(o) | Command::Check(o) => o,
                _ => panic!("not a run"),
            }
        }

        fn metrics(&self) -> String {
            fs::read_to_string(self.path("t.prom")).unwrap()
        }
    }

    fn metrics_arg(h: &Host) -> String {
        h.path("t.prom").to_str().unwrap().to_string()
    }

    #[test]
    fn a_run_sets_the_keys_and_publishes_a_success() {
        let h = Host::new();
        let m = metrics_arg(&h);
        let report = set(&h.options(&["-T", "1000000", "--metrics", &m]));
        assert_eq!(report.exit_code(), 0, "{report:?}");
        assert_eq!(
            fs::read(h.path("target")).unwrap(),
            format!("{PAIR}\0").as_bytes()
        );
        let metrics = h.metrics();
        assert!(
            metrics.contains("\ntofurkey_last_run_success 1\n"),
            "{metrics}"
        );
        assert!(metrics.contains("\ntofurkey_last_success_timestamp_seconds 1000000\n"));
    }

    #[test]
    fn a_failed_run_keeps_the_last_success_changes_no_key_and_exits_1() {
        let h = Host::new();
        let m = metrics_arg(&h);
        assert_eq!(
            set(&h.options(&["-T", "1000000", "--metrics", &m])).exit_code(),
            0
        );
        let set_pair = fs::read(h.path("target")).unwrap();
        fs::write(h.path("main.key"), [7u8; 31]).unwrap();
        let report = set(&h.options(&["-T", "1000100", "--metrics", &m]));
        assert!(matches!(report.result, Err(Error::Key(_))), "{report:?}");
        assert_eq!(report.exit_code(), 1);
        assert_eq!(fs::read(h.path("target")).unwrap(), set_pair);
        let metrics = h.metrics();
        assert!(
            metrics.contains("\ntofurkey_last_run_timestamp_seconds 1000100\n"),
            "{metrics}"
        );
        assert!(metrics.contains("\ntofurkey_last_run_success 0\n"));
        assert!(metrics.contains("\ntofurkey_last_success_timestamp_seconds 1000000\n"));
        assert!(
            !metrics.contains("tofurkey_keys_info"),
            "no keys for a failure"
        );
    }

    #[test]
    fn a_dry_run_writes_neither_keys_nor_metrics() {
        let h = Host::new();
        let m = metrics_arg(&h);
        let report = set(&h.options(&["-n", "-T", "1000000", "--metrics", &m]));
        assert_eq!(report.exit_code(), 0);
        assert!(report.metrics.is_none());
        assert!(!h.path("t.prom").exists());
        assert_eq!(fs::read(h.path("target")).unwrap(), OLD);
    }

    #[test]
    fn unwritable_metrics_fail_the_run_with_the_keys_set() {
        let h = Host::new();
        let missing = h.path("missing/t.prom");
        let m = missing.to_str().unwrap();
        let report = set(&h.options(&["-T", "1000000", "--metrics", m]));
        assert!(report.result.is_ok());
        assert!(matches!(report.metrics, Some(Err(Error::Metrics(_)))));
        assert_eq!(report.exit_code(), 1);
        assert_eq!(
            fs::read(h.path("target")).unwrap(),
            format!("{PAIR}\0").as_bytes()
        );
    }

    #[test]
    fn the_worst_error_is_the_exit_code() {
        let metrics = || Metrics {
            run: 1,
            success: true,
            last_success: Some(1),
            interval: 86_400,
            next_rotation: 43_200,
            keys: None,
            tickets_id: None,
            clock: None,
        };
        let usage = || Error::Usage(crate::cli::UsageError("x".into()));
        let output = || Error::Output(std::io::Error::other("x"));
        let cases = [
            (Ok(metrics()), None, 0),
            (Ok(metrics()), Some(Ok(())), 0),
            (Ok(metrics()), Some(Err(output())), 1),
            (Err(output()), Some(Ok(())), 1),
            (Err(usage()), Some(Err(output())), 2),
        ];
        for (result, metrics, want) in cases {
            assert_eq!(Report { result, metrics }.exit_code(), want);
        }
    }

    #[test]
    fn a_check_after_a_run_is_ok_and_unknown_without_a_key() {
        let h = Host::new();
        assert_eq!(set(&h.options(&["-T", "1000000"])).exit_code(), 0);
        let report = check(&h.options(&["--check", "-T", "1000000"]));
        assert_eq!(report.exit, 0, "{report:?}");
        assert!(
            report
                .line
                .starts_with("OK: the target holds the expected key pair")
        );
        // Half an interval on, the pair in place is the previous one.
        let report = check(&h.options(&["--check", "-T", "1043200"]));
        assert_eq!(report.exit, 1, "{report:?}");
        fs::remove_file(h.path("main.key")).unwrap();
        let report = check(&h.options(&["--check", "-T", "1000000"]));
        assert_eq!(report.exit, UNKNOWN_EXIT, "{report:?}");
        assert!(
            report
                .line
                .starts_with("UNKNOWN: cannot read main key file")
        );
        assert_eq!(report.stdout(), format!("{}\n", report.line));
    }
}
