//! tofurkey's entry point: parses the command line, hands it to the run's
//! policy (`run/`) and returns its exit code. One invocation is one
//! computation-and-write; systemd owns the schedule.

use std::env;
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use tofurkey::calendar;
use tofurkey::cli::{self, USAGE};
use tofurkey::config;
use tofurkey::error::Error;
use tofurkey::hygiene;
use tofurkey::log;
use tofurkey::options::Command;
use tofurkey::run;

fn main() -> ExitCode {
    // std has ignored SIGPIPE and filled closed fds 0-2 with /dev/null.
    hygiene::block_file_size_signal();
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    let asks_check = cli::asks_check(&args);
    // A command line that names no setting takes the settings file's.
    let parsed = cli::parse(args.clone())
        .map_err(Error::from)
        .and_then(|command| config::apply(command, args).map_err(Error::from));
    let code = match parsed {
        Ok(command) => execute(command),
        Err(e) => {
            // One line: the options are in --help, not repeated here.
            log::stderr_line(&format!("error: {}", log::escape(&e.to_string())));
            match asks_check {
                // Monitoring reads stdout and the exit code.
                true => {
                    let report = run::check_usage_error(&e);
                    print(&report.stdout());
                    report.exit
                }
                false => e.exit_code(),
            }
        }
    };
    ExitCode::from(code)
}

/// Runs a parsed command; returns its exit code.
fn execute(command: Command) -> u8 {
    match command {
        Command::Help => print(&format!("{USAGE}\n")),
        Command::Version => print(&format!("tofurkey {}\n", env!("CARGO_PKG_VERSION"))),
        Command::PrintTimer(interval, _) => match calendar::timer_dropin(interval) {
            Ok(text) => print(&text),
            Err(e) => {
                let e = Error::from(e);
                log::stderr_line(&format!("error: {e}"));
                e.exit_code()
            }
        },
        Command::Run(options) => run::set(&options).exit_code(),
        Command::Check(options) => {
            let report = run::check(&options);
            // The verdict is the exit code; a line that cannot be printed
            // is reported on stderr and changes nothing.
            print(&report.stdout());
            report.exit
        }
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
