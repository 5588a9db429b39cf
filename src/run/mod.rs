//! A run's policy: what a key-setting run and a `--check` open and in which
//! order, when signals are held, how the outputs' errors combine, what the
//! clock check adds, and which metrics a success and a failure publish.
//! `main.rs` parses and calls [`set`] or [`check`]; each returns what it
//! did as a typed value, whose exit code `main.rs` returns.

use std::env;
use std::io;
use std::path::Path;

use crate::clock;
use crate::counters::Counters;
use crate::error::Error;
use crate::fileio;
use crate::hygiene::{self, SignalGuard};
use crate::keys::{self, Keys, MainKey, Rollover};
use crate::keysource::{self, Loaded, Opened, Purpose, Source};
use crate::log::Log;
use crate::metrics::{self, Metrics, NextKeyInfo};
use crate::notify;
use crate::options::Options;
use crate::outputs::TicketOutputs;
use crate::procfs::Target;
use crate::promfile;
use crate::report::{self, Entry, Outcome, TicketOutcome, Written};
use crate::tickets::{Schedule, TicketSet};
use crate::timesync::ClockSync;
use crate::tipc::{self, MasterKey};

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
    let text = match result {
        Ok(metrics) => metrics.render(),
        Err(_) => failed_run_metrics(options, path)?.render(),
    };
    Some(promfile::write(path, &text).map_err(Error::Metrics))
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
        clock: clock::sync().unwrap_or(ClockSync::Unknown),
        // The next key was not read: its id is not known.
        rollover: None,
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
    // TIPC is looked for now too, but its absence fails only TIPC, after
    // the other outputs are set (a kernel without it still gets its TFO key).
    let tipc = options
        .tipc
        .as_ref()
        .filter(|_| !options.dry_run)
        .map(|_| tipc::Prepared::open());
    let purpose = Purpose::set(!outputs.is_empty());
    let (opened, mut key_warnings) = keysource::open(&source, purpose)?;
    let next = open_next(options, purpose, &mut key_warnings)?;
    for warning in &key_warnings {
        log.warn(warning);
    }

    // Signals are held from the first byte of key material to the last
    // wipe, and nothing in between logs or waits (but for a piped key and
    // HAProxy's bounded push, which a stop signal ends).
    let signals = SignalGuard::block().map_err(Error::SignalMask)?;
    let mut loaded = opened.read()?;
    let next = read_next(next, &loaded.key, &mut loaded.warnings)?;
    let main_keys = main_keys(&loaded.key, next.as_ref());
    let rollover = next
        .as_ref()
        .zip(options.next_key.as_ref())
        .map(|((key, _), n)| NextKeyInfo {
            id: key.fingerprint(),
            at: n.at.secs(),
        });
    let pair = keys::pair_text(main_keys, counters.primary, counters.backup);
    let set = (!outputs.is_empty()).then(|| TicketSet::derive(main_keys, schedule));
    // The master key of the main key in effect now: the next one from T.
    let master = tipc
        .is_some()
        .then(|| MasterKey::derive(main_keys.for_counter(counters.primary)));
    drop(next);
    let (main_id, created) = (loaded.key.fingerprint(), loaded.created);
    // The key's own warnings (a key of text) wait for the signals' release.
    let Loaded {
        key, mut warnings, ..
    } = loaded;
    drop(key);
    let shown = options
        .show_keys
        .then(|| report::keys_line(counters.now, &pair));
    // Each output is written whatever became of the others.
    let mut errors = Vec::new();
    let tfo_set = match target.as_ref().map(|t| t.write(&pair)) {
        Some(Ok(())) => true,
        Some(Err(e)) => {
            errors.push(Error::from(e));
            false
        }
        None => false,
    };
    let keys_id = pair.fingerprint();
    drop(pair);
    let tickets_id = set.as_ref().map(TicketSet::fingerprint);
    let mut written = Written::default();
    if let (Some(set), Some(id), false) = (&set, &tickets_id, options.dry_run) {
        let results = outputs.write(set, id, counters.now.secs(), signals.stop_signals());
        written = results.written;
        errors.extend(results.errors.into_iter().map(Error::from));
        warnings.extend(results.warnings);
    }
    drop(set);
    let rekeying = options.tipc.as_ref().and_then(|t| t.rekeying);
    let tipc = match (tipc, master) {
        (Some(Ok(prepared)), Some(master)) => match prepared.apply(&master, rekeying) {
            Ok((applied, recorded)) => {
                errors.extend(recorded.map(Error::from));
                Some(applied)
            }
            Err(e) => {
                errors.push(e.into());
                None
            }
        },
        (Some(Err(e)), _) => {
            errors.push(e.into());
            None
        }
        _ => None,
    };
    // A stop signal that came meanwhile (and did not end the push) is
    // reported, after every output was written: dying of it once the
    // mask is restored would leave the keys set and nothing said.
    if let Some(signal) = signals.release() {
        errors.push(Error::Stopped(signal));
    }

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
    if let Some(failed) = Error::combine(errors) {
        return Err(match report::set_anyway(tfo_set, &written, tipc.as_ref()) {
            Some(set) => Error::Partial {
                failed: Box::new(failed),
                set,
            },
            None => failed,
        });
    }
    let (clock, warning) = clock_state(clock::sync(), options.dry_run);
    if let Some(warning) = warning {
        log.send(&warning);
    }
    let outcome = Outcome {
        counters: &counters,
        source: &label,
        target: &options.target,
        main_id: &main_id,
        keys_id: &keys_id,
        dry_run: options.dry_run,
        rollover: rollover.as_ref(),
        tipc: tipc.as_ref(),
        tickets: tickets_id.as_deref().map(|id| TicketOutcome {
            schedule,
            tickets_id: id,
            written,
        }),
        clock,
    };
    log.send(&outcome.entry());
    // From T + I on every key comes from the next key: the rollover is done.
    if let Some(next) = rollover
        .as_ref()
        .filter(|r| counters.now.secs() >= r.at + counters.interval.secs())
    {
        log.send(&report::rollover_done(next));
    }
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
        rollover,
    };
    Ok((status, metrics))
}

/// The kernel's word on the wall clock (`read`: what `adjtimex` gave),
/// and the warning a run logs when the clock is not known to be
/// synchronized: not synchronized, or its state unknown because the
/// kernel's NTP state could not be read. The keys are set whatever it
/// says (the kernel's own random key is no better); a dry run's warning
/// does not say they were.
fn clock_state(read: io::Result<ClockSync>, dry_run: bool) -> (ClockSync, Option<Entry<'static>>) {
    match read {
        Ok(ClockSync::Synchronized) => (ClockSync::Synchronized, None),
        Ok(ClockSync::Unsynchronized) => (
            ClockSync::Unsynchronized,
            Some(report::unsynchronized(dry_run)),
        ),
        Err(e) => (
            ClockSync::Unknown,
            Some(report::clock_unknown(&fileio::os_error(&e), dry_run)),
        ),
        // Never the kernel's answer (`ClockSync::of`); were it, the same.
        Ok(ClockSync::Unknown) => (
            ClockSync::Unknown,
            Some(report::clock_unknown("no state", dry_run)),
        ),
    }
}

/// The next main key's source opened and checked (the trust rules of
/// `-k`), not read, with its first counter; `None` without a rollover.
/// A service given the credential `tofurkey.key.next` but no T is warned
/// that it is not used.
fn open_next(
    options: &Options,
    purpose: Purpose,
    warnings: &mut Vec<String>,
) -> Result<Option<(Opened, u64, Source)>, Error> {
    let credentials = env::var_os("CREDENTIALS_DIRECTORY");
    let Some(next) = &options.next_key else {
        if let Some(dir) = credentials
            && Path::new(&dir).join(keysource::NEXT_CREDENTIAL).exists()
        {
            warnings.push(format!(
                "the credential {} is loaded but not used: no rollover is scheduled; set \
                 NEXT_KEY_AT=T, or, after a rollover, remove it from the credential store",
                keysource::NEXT_CREDENTIAL
            ));
        }
        return Ok(None);
    };
    let source = Source::choose_next(&next.key, credentials)?;
    let (opened, more) = keysource::open(&source, purpose)?;
    warnings.extend(more);
    Ok(Some((opened, next.first_counter(options.interval), source)))
}

/// Reads the next main key (signals held); one equal to `current` is
/// refused. Its key's warnings (a key of text) go to `warnings`, to be
/// logged once signals are released.
fn read_next(
    next: Option<(Opened, u64, Source)>,
    current: &MainKey,
    warnings: &mut Vec<String>,
) -> Result<Option<(MainKey, u64)>, Error> {
    let Some((opened, first, source)) = next else {
        return Ok(None);
    };
    let loaded = opened.read()?;
    if loaded.key.same_as(current) {
        return Err(Error::SameNextKey(source));
    }
    warnings.extend(loaded.warnings);
    Ok(Some((loaded.key, first)))
}

/// The main keys that derive a run's keys: the current one, and the next
/// one from its first counter on.
fn main_keys<'a>(current: &'a MainKey, next: Option<&'a (MainKey, u64)>) -> Keys<'a> {
    Keys {
        current,
        rollover: next.map(|(key, first)| Rollover {
            next: key,
            first: *first,
        }),
    }
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

mod check;
pub use check::{CheckReport, check, check_usage_error};

#[cfg(test)]
mod tests;
