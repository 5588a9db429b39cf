//! tofurkey's entry point: wires the parts and maps errors to exit codes.
//! One invocation is one computation-and-write; systemd owns the schedule.
//!
//! `no_main`: std's runtime set-up probes the main thread's stack with
//! `pthread_getattr_np`, which parses /proc/self/maps with sscanf and costs
//! more instructions than all of tofurkey's own work (`make bench`). What
//! that set-up does which matters here is done in [`main`] instead: fds 0-2
//! made valid and SIGPIPE ignored; stdout is flushed by [`print`], its only
//! writer.
#![no_main]

use std::env;
use std::ffi::{OsString, c_char, c_int};
use std::io::{self, Write};

use tofurkey::arena::Arena;
use tofurkey::calendar;
use tofurkey::check::{self, UNKNOWN_EXIT};
use tofurkey::cli::{self, USAGE};
use tofurkey::clock;
use tofurkey::counters::Counters;
use tofurkey::error::Error;
use tofurkey::fileio;
use tofurkey::hygiene::{self, SignalGuard};
use tofurkey::keys;
use tofurkey::keysource::{self, Source};
use tofurkey::log::{self, Log};
use tofurkey::metrics::{self, Metrics};
use tofurkey::notify;
use tofurkey::options::{Command, Options};
use tofurkey::outputs::TicketOutputs;
use tofurkey::procfs::Target;
use tofurkey::promfile;
use tofurkey::report::{self, Checked, Outcome, TicketOutcome, Written};
use tofurkey::tickets::{Schedule, TicketSet};
use tofurkey::timesync::ClockSync;

/// Every allocation of a run (see `arena.rs` for why not glibc's malloc).
#[global_allocator]
static ALLOCATOR: Arena = Arena::new();

/// The C entry point (see the module doc for why not Rust's `fn main`).
// SAFETY: `no_mangle` is unsafe because two symbols of one name would
// clash; with `no_main`, std defines no `main`, so this is the only one.
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    if hygiene::reopen_closed_std_fds().is_none() {
        return 1;
    }
    hygiene::ignore_output_signals();
    c_int::from(real_main())
}

/// Parses the command line and runs it; returns the exit code.
fn real_main() -> u8 {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    let asks_check = cli::asks_check(&args);
    let command = match cli::parse(args) {
        Ok(c) => c,
        Err(e) => {
            let e = Error::from(e);
            let line = e.to_string();
            let line = log::escape(&line);
            log::stderr_line(&format!("error: {line}"));
            log::stderr_line(USAGE);
            if asks_check {
                // Monitoring reads stdout and the exit code.
                print(&format!("UNKNOWN: {line}\n"));
                return UNKNOWN_EXIT;
            }
            return e.exit_code();
        }
    };
    match command {
        Command::Help => print(&format!("{USAGE}\n")),
        Command::Version => print(&format!("tofurkey {}\n", env!("CARGO_PKG_VERSION"))),
        Command::PrintTimer(interval) => match calendar::timer_dropin(interval) {
            Ok(text) => print(&text),
            Err(e) => {
                let e = Error::from(e);
                log::stderr_line(&format!("error: {e}"));
                e.exit_code()
            }
        },
        Command::Run(options) => run(&options),
        Command::Check(options) => check(&options),
    }
}

/// Writes `text` to stdout: 0, or 1 and a line on stderr if it cannot be
/// written (`--version >/dev/full`).
fn print(text: &str) -> u8 {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) => {
            let e = Error::Output(e);
            log::stderr_line(&format!("error: {e}"));
            e.exit_code()
        }
    }
}

/// A key-setting run: log the outcome, set STATUS, write the metrics, map
/// errors to exit codes. A run that set the keys exits 0 even if its log
/// could not be written; one whose metrics could not be written exits 1.
fn run(options: &Options) -> u8 {
    let log = Log::new(options.verbose);
    for warning in hygiene::harden() {
        log.warn(&warning);
    }
    let result = set_keys(options, &log);
    let code = match &result {
        Ok((status, _)) => {
            if let Some(Err(e)) = status.as_deref().map(notify::status) {
                log.warn(&format!("cannot send STATUS to systemd: {e}"));
            }
            0
        }
        Err(e) => {
            let (entry, status) = report::failure(&e.to_string());
            log.send(&entry);
            let _ = notify::status(&status);
            e.exit_code()
        }
    };
    // A dry run writes nothing: no metrics either.
    let Some(path) = options.metrics.as_ref().filter(|_| !options.dry_run) else {
        return code;
    };
    let metrics = match result {
        Ok((_, metrics)) => Some(metrics),
        Err(_) => failed_run_metrics(options, path),
    };
    if let Some(Err(e)) = metrics.map(|m| promfile::write(path, &m.render())) {
        let e = Error::Metrics(e);
        log.send(&report::failure(&e.to_string()).0);
        return code.max(e.exit_code());
    }
    code
}

/// The metrics of a failed run: its time, no keys, and the last success
/// the previous file recorded. `None` without a usable clock.
fn failed_run_metrics(options: &Options, path: &std::path::Path) -> Option<Metrics> {
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
    // The keys are set whatever the clock's state (the kernel's random key
    // is no better); the entry says what the kernel says of it.
    let clock = match clock::sync() {
        Ok(sync) => Some(sync),
        Err(e) => {
            log.warn(&format!(
                "cannot read the clock's synchronization (adjtimex): {}; not checked",
                fileio::os_error(&e)
            ));
            None
        }
    };
    if clock == Some(ClockSync::Unsynchronized) {
        log.send(&report::unsynchronized());
    }
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
    // Made only for a systemd that listens: most of a run's cost is its text.
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

/// `--check`: one line on stdout, a monitoring exit code; writes nothing.
fn check(options: &Options) -> u8 {
    hygiene::harden();
    let (code, line) = report::check_line(check_keys(options).map_err(|e| e.to_string()));
    // The verdict is the exit code; a line that cannot be printed is
    // reported on stderr and changes nothing.
    let _ = print(&format!("{}\n", log::escape(&line)));
    // Under systemd (a monitoring unit), also a structured journal entry.
    let log = Log::new(false);
    if log.to_journal() {
        log.send(&report::check_entry(code, &line));
    }
    code
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
        verdict: check::classify(&held, &loaded.key, &counters),
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
