//! tofurkey's entry point: wires the parts and maps errors to exit codes.
//! One invocation is one computation-and-write; systemd owns the schedule.
//!
//! `no_main`: std's runtime set-up probes the main thread's stack with
//! `pthread_getattr_np`, which parses /proc/self/maps with sscanf and costs
//! more instructions than all of tofurkey's own work (`make bench`). The two
//! things that set-up does which matter here are done in [`main`] instead:
//! fds 0-2 are made valid, and stdout is flushed before exit.
#![no_main]

use std::env;
use std::ffi::{OsString, c_char, c_int};
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use tofurkey::calendar;
use tofurkey::check::{self, Verdict};
use tofurkey::cli::{self, Command, Options, USAGE};
use tofurkey::error::Error;
use tofurkey::hygiene::{self, SignalGuard};
use tofurkey::keys;
use tofurkey::keysource::{self, Source};
use tofurkey::log::{self, Event, Fields, Level, Log};
use tofurkey::notify;
use tofurkey::procfs::Target;
use tofurkey::schedule::{Schedule, UnixTime, utc_string};

/// `--check`'s exit code when the answer is unknown (monitoring convention).
const CHECK_UNKNOWN: u8 = 3;

/// The C entry point (see the module doc for why not Rust's `fn main`).
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    ensure_std_fds();
    hygiene::ignore_output_signals();
    let code = real_main();
    // std's runtime would flush stdout at exit; without it, we do. Every
    // print already flushed and reported its own error.
    let _ = io::stdout().flush();
    c_int::from(code)
}

/// If fd 0, 1 or 2 is closed, open /dev/null on it, so that a key file or
/// the target can never be opened as "stderr" and receive log lines.
fn ensure_std_fds() {
    for fd in 0..3 {
        // SAFETY: fcntl(F_GETFD) only queries; open returns the lowest free
        // fd, which is `fd` itself since it was just found closed.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) == -1 {
                let null = c"/dev/null";
                if libc::open(null.as_ptr(), libc::O_RDWR) != fd {
                    libc::abort();
                }
            }
        }
    }
}

/// Parses the command line and runs it; returns the exit code.
fn real_main() -> u8 {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    let command = match cli::parse(args.iter().cloned()) {
        Ok(c) => c,
        Err(e) => {
            log::stderr_line(&format!("error: {}", log::escape(&e.to_string())));
            log::stderr_line(USAGE);
            if cli::asks_check(&args) {
                // Monitoring reads stdout and the exit code.
                print(&format!("UNKNOWN: {}\n", log::escape(&e.to_string())));
                return CHECK_UNKNOWN;
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

/// A key-setting run: log the outcome, set STATUS, map errors to exit codes.
/// A run that set the keys exits 0 even if its log could not be written.
fn run(options: &Options) -> u8 {
    let log = Log::new(options.verbose);
    for warning in hygiene::harden() {
        log.warn(&warning);
    }
    match set_keys(options, &log) {
        Ok(status) => {
            if let Err(e) = notify::status(&status) {
                log.warn(&format!("cannot send STATUS to systemd: {e}"));
            }
            0
        }
        Err(e) => {
            let msg = e.to_string();
            log.emit(Level::Error, Some(Event::Failure), &msg, &Fields::new());
            let _ = notify::status(&format!("Failed: {msg}"));
            e.exit_code()
        }
    }
}

/// The job: time, schedule, main key, derive, write. Returns the STATUS line.
fn set_keys(options: &Options, log: &Log) -> Result<String, Error> {
    let (schedule, source) = plan(options)?;
    let (now, source_name) = (schedule.now, source.describe());
    log.verbose(&format!("main key from {source_name}"));
    // Every file is opened and checked before a byte of key is read.
    let target = match options.dry_run {
        true => None,
        false => Some(Target::open(&options.target)?),
    };
    let (opened, warnings) = keysource::open(&source, true)?;
    for warning in &warnings {
        log.warn(warning);
    }

    // Signals are held from the first byte of key material to the last
    // wipe, and nothing in between logs or waits (but for a piped key).
    let signals = SignalGuard::block().map_err(Error::SignalMask)?;
    let loaded = opened.read()?;
    let pair = keys::pair_text(&loaded.key, schedule.primary, schedule.backup);
    let (main_id, created) = (loaded.key.fingerprint(), loaded.created);
    drop(loaded);
    // The exact line 1.3.4 prints with -V; scripts grep for it.
    let shown = options.show_keys.then(|| {
        Zeroizing::new(format!(
            "Generated ASCII TFO keys for procfs write: [{}] {}",
            now.secs(),
            String::from_utf8_lossy(pair.text())
        ))
    });
    let written = target.as_ref().map_or(Ok(()), |t| t.write(&pair));
    let keys_id = pair.fingerprint();
    drop(pair);
    drop(signals);
    if let Some(line) = shown {
        log.info(&line);
    }
    written?;

    if let Source::Autokey(_) = source {
        let (event, what) = match created {
            true => (Event::AutokeyCreated, "created a new random main key as"),
            false => (Event::AutokeyUsed, "using the main key in"),
        };
        log.emit(
            Level::Warning,
            Some(event),
            &format!(
                "{what} {source_name}: autokey mode gives no cross-host sync; \
                 give every host the same key with -k or the credential tofurkey.key"
            ),
            &vec![("TOFURKEY_KEY_SOURCE", source_name.clone())],
        );
    }
    let (event, what, status) = if options.dry_run {
        (Event::DryRun, "dry run (-n), keys not written", "Dry run")
    } else {
        (Event::KeysSet, "keys set", "Keys set")
    };
    let next = schedule.next_rotation;
    let msg = format!(
        "{what}: time {} ({}), interval {}, counters {} primary {} backup, next rotation {next} \
         ({}, in {} s), {}, main key id {main_id}, keys id {keys_id}",
        now.secs(),
        utc_string(now.secs()),
        options.interval.secs(),
        schedule.primary,
        schedule.backup,
        utc_string(next),
        schedule.secs_to_rotation(),
        source_name,
    );
    let fields: Fields = vec![
        ("TOFURKEY_UNIX_TIME", now.secs().to_string()),
        ("TOFURKEY_INTERVAL", options.interval.secs().to_string()),
        ("TOFURKEY_CTR_PRIMARY", schedule.primary.to_string()),
        ("TOFURKEY_CTR_BACKUP", schedule.backup.to_string()),
        ("TOFURKEY_NEXT_ROTATION", next.to_string()),
        ("TOFURKEY_KEY_SOURCE", source_name),
        ("TOFURKEY_TARGET", options.target.display().to_string()),
        ("TOFURKEY_MAIN_KEY_ID", main_id.clone()),
        ("TOFURKEY_KEYS_ID", keys_id.clone()),
    ];
    log.emit(Level::Info, Some(event), &msg, &fields);
    Ok(format!(
        "{status}: counters {}/{}, next rotation {}, keys id {keys_id}",
        schedule.primary,
        schedule.backup,
        utc_string(next)
    ))
}

/// `--check`: one line on stdout, a monitoring exit code; writes nothing.
fn check(options: &Options) -> u8 {
    hygiene::harden();
    let (code, line) = match check_keys(options) {
        Ok((verdict, detail)) => (
            verdict.exit_code(),
            format!("{} ({detail})", verdict.describe()),
        ),
        Err(e) => (CHECK_UNKNOWN, format!("UNKNOWN: {e}")),
    };
    // The verdict is the exit code; a line that cannot be printed is
    // reported on stderr and changes nothing.
    let _ = print(&format!("{}\n", log::escape(&line)));
    // Under systemd (a monitoring unit), also a structured journal entry.
    let log = Log::new(false);
    if log.to_journal() {
        let level = if code == 0 {
            Level::Info
        } else {
            Level::Warning
        };
        let fields = vec![("TOFURKEY_CHECK_EXIT", code.to_string())];
        log.emit(level, Some(Event::Check), &line, &fields);
    }
    code
}

fn check_keys(options: &Options) -> Result<(Verdict, String), Error> {
    let (schedule, source) = plan(options)?;
    let target = Target::open_read(&options.target)?;
    // Warnings (a key others can read) would be a second line: monitoring
    // reads one. The key-setting runs report them.
    let (opened, _warnings) = keysource::open(&source, false)?;
    let _signals = SignalGuard::block().map_err(Error::SignalMask)?;
    let loaded = opened.read()?;
    let held = target.read()?;
    let verdict = check::classify(&held, &loaded.key, &schedule);
    let detail = format!(
        "{}, time {}, interval {}, counters {}/{}, main key id {}, {}",
        options.target.display(),
        schedule.now.secs(),
        options.interval.secs(),
        schedule.primary,
        schedule.backup,
        loaded.key.fingerprint(),
        source.describe()
    );
    Ok((verdict, detail))
}

/// What both a run and a check start from: the counters for now (or `-T`)
/// and where the main key comes from.
fn plan(options: &Options) -> Result<(Schedule, Source), Error> {
    let now = match options.time {
        Some(t) => t,
        None => clock()?,
    };
    let source = Source::choose(&options.key, env::var_os("CREDENTIALS_DIRECTORY"))?;
    Ok((Schedule::at(now, options.interval), source))
}

/// The wall clock in whole seconds, range-checked like 1.3.4.
fn clock() -> Result<UnixTime, Error> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::Clock)?
        .as_secs();
    UnixTime::new(secs)
}
