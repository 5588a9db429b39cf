//! Command line: one explicit lexopt loop, getopt-compatible with 1.3.4
//! (`-vno` clusters, `-i3600` and `-i 3600`, `--` ends options), plus long
//! forms, into the [`Command`] of `options.rs`. Parsing only: nothing here
//! touches a file or the clock.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::counters::{Interval, UnixTime};
use crate::fileio::file_name;
use crate::options::{
    Command, DEFAULT_TARGET, KeySpec, NextKey, NextKeySpec, Options, Settings, Tickets, Tipc,
};
use crate::tipc::MAX_REKEYING;

/// A command line that cannot be run: what is wrong and how to fix it.
/// Printed as one line, pointing at `--help` ([`SEE_HELP`]); exit 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What follows every usage error, on its line: where the options are.
pub const SEE_HELP: &str = "see 'tofurkey --help'";

/// The usage text, printed by `--help`: every option, grouped by what it
/// is for. A usage error prints one line instead ([`SEE_HELP`]).
pub const USAGE: &str = "\
Usage: tofurkey [-vnoV] [-i SECONDS] [-k PATH | -a PATH] [-P PATH] [-T UNIXTIME]
                [--metrics PATH] [TICKETS] [--tfo-only] [ROLLOVER] [TIPC]
       tofurkey --check [-i SECONDS] [-k PATH | -a PATH] [-P PATH] [-T UNIXTIME] [TICKETS]
                [ROLLOVER]
       tofurkey --print-timer [-i SECONDS]
       tofurkey --help | --version
Sets cluster-synchronized TCP Fast Open keys, derived from a main key and the clock.
A command line with none of -k, -a, -i, -P, --metrics, TICKETS, ROLLOVER and TIPC takes them from
/etc/default/tofurkey, as tofurkey.service does.
Main key (the same on every host of a cluster):
  -k, --key PATH       main key file (at least 32 bytes; the first 32 are used);
                       '-' or /dev/stdin: read it from standard input
  -a, --autokey PATH   local random key, made if missing (default /run/tofurkey.autokey);
                       no sync across hosts. Without -k or -a: the systemd credential
                       'tofurkey.key' when present, else the service's
                       (/etc/credstore/tofurkey.key), else the default autokey.
Keys:
  -i, --interval SECS  rotation interval, even, 10..604800 (default 86400)
  -P, --procfs PATH    write here instead of /proc/sys/net/ipv4/tcp_fastopen_key
  -T, --time UNIXTIME  pretend the time is UNIXTIME (testing)
Run:
  -v, --verbose        say more
  -n, --dry-run        compute everything, write no key and no metrics
  -o                   one shot: accepted for 1.3.4 compatibility (always one shot)
  -V                   verbose, and print the keys (testing only: leaks secrets!)
      --metrics PATH   write a Prometheus text file (node_exporter's textfile collector)
      --tfo-only       the namespace's keys alone (TCP Fast Open; TIPC if asked), whatever
                       the settings file says
Rollover (replace the main key across a fleet at one instant):
      --next-key PATH  the next main key (as -k), else the credential
                       tofurkey.key.next
      --next-key-at UNIXTIME  when it takes over, a multiple of -i: every key of an
                       interval from then on comes from it
TICKETS: TLS session-ticket keys from the same main key and interval, on tmpfs:
      --nginx-tickets DIR     DIR/previous.key, current.key, next.key for nginx
      --haproxy-tickets FILE  FILE of base64 keys for HAProxy's tls-ticket-keys
      --haproxy-socket PATH   and push them to the running HAProxy through its
                              admin socket (needs --haproxy-tickets)
TIPC: the cluster master key of TIPC in this network namespace, from the main key:
      --tipc           set it (when it differs from what this boot's runs set)
      --tipc-rekeying MINUTES  and the kernel's rekeying interval (0: none; at most
                       10080), set when it changes
Other modes:
      --check          compare the target and TICKETS with the expected keys; write nothing
      --print-timer    print a tofurkey.timer drop-in for the interval (-i)
  -h, --help           this text
      --version        the version
Exit: 0 ok, 1 failure, 2 usage error; --check: 0 in sync, 1 previous/next pair,
      2 not in sync, 3 unknown or usage error (see tofurkey(8)).";

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let (mut key_file, mut autokey) = (None, None);
    let mut interval = Interval::DEFAULT;
    let (mut verbose, mut show_keys, mut dry_run) = (false, false, false);
    let mut target = PathBuf::from(DEFAULT_TARGET);
    let mut time = None;
    let (mut check, mut print_timer, mut tfo_only) = (false, false, false);
    let mut tickets = Tickets::default();
    let mut metrics = None;
    let (mut next_key, mut next_key_at) = (None, None);
    let (mut tipc, mut tipc_rekeying) = (false, None);
    // Whether a setting (key, interval, target, output, metrics) was named.
    let mut named = false;

    while let Some(arg) = parser.next().map_err(usage)? {
        named |= matches!(
            arg,
            Short('k' | 'a' | 'i' | 'P')
                | Long(
                    "key"
                        | "autokey"
                        | "interval"
                        | "procfs"
                        | "nginx-tickets"
                        | "haproxy-tickets"
                        | "haproxy-socket"
                        | "metrics"
                        | "next-key"
                        | "next-key-at"
                        | "tipc"
                        | "tipc-rekeying"
                )
        );
        match arg {
            Short('k') | Long("key") => key_file = Some(key_path("-k", parser.value())?),
            Short('a') | Long("autokey") => autokey = Some(key_path("-a", parser.value())?),
            Short('i') | Long("interval") => {
                let secs = number("-i", parser.value())?;
                interval = Interval::new(secs).map_err(|e| UsageError(e.to_string()))?;
            }
            Short('v') | Long("verbose") => verbose = true,
            Short('V') => (verbose, show_keys) = (true, true),
            Short('n') | Long("dry-run") => dry_run = true,
            // 1.3.4's one-shot flag: every run is one shot now.
            Short('o') => {}
            Short('P') | Long("procfs") => {
                let path = PathBuf::from(parser.value().map_err(usage)?);
                if path.as_os_str().is_empty() {
                    return Err(UsageError("-P: empty path: give the file to write".into()));
                }
                target = path;
            }
            Short('T') | Long("time") => {
                let secs = number("-T", parser.value())?;
                time = Some(UnixTime::new(secs).map_err(|e| UsageError(format!("-T: {e}")))?);
            }
            Long("nginx-tickets") => tickets.nginx = Some(path("--nginx-tickets", parser.value())?),
            Long("haproxy-tickets") => {
                let file = file_path("--haproxy-tickets", parser.value())?;
                // HAProxy's runtime API names the file in a command line.
                if !file
                    .to_str()
                    .is_some_and(|s| s.bytes().all(|b| b.is_ascii_graphic() && b != b';'))
                {
                    return Err(UsageError(format!(
                        "--haproxy-tickets: '{}' holds a space, ';', a control character or \
                         non-ASCII: HAProxy's runtime API cannot name it; choose a plain path",
                        file.display()
                    )));
                }
                tickets.haproxy_file = Some(file);
            }
            Long("haproxy-socket") => {
                tickets.haproxy_socket = Some(file_path("--haproxy-socket", parser.value())?);
            }
            Long("metrics") => metrics = Some(file_path("--metrics", parser.value())?),
            Long("next-key") => next_key = Some(file_path("--next-key", parser.value())?),
            Long("next-key-at") => {
                let secs = number("--next-key-at", parser.value())?;
                next_key_at = Some(
                    UnixTime::new(secs).map_err(|e| UsageError(format!("--next-key-at: {e}")))?,
                );
            }
            Long("tipc") => tipc = true,
            Long("tipc-rekeying") => {
                let minutes = number("--tipc-rekeying", parser.value())?;
                tipc_rekeying = Some(
                    u32::try_from(minutes)
                        .ok()
                        .filter(|m| *m <= MAX_REKEYING)
                        .ok_or_else(|| {
                            UsageError(format!(
                                "--tipc-rekeying: {minutes} minutes: give 0 (no rekeying) to \
                                 {MAX_REKEYING} (a week)"
                            ))
                        })?,
                );
            }
            Long("check") => check = true,
            Long("tfo-only") => tfo_only = true,
            Long("print-timer") => print_timer = true,
            Short('h') | Long("help") => return Ok(Command::Help),
            Long("version") => return Ok(Command::Version),
            Value(v) => {
                return Err(UsageError(format!(
                    "unexpected argument '{}': tofurkey takes options only",
                    v.to_string_lossy()
                )));
            }
            _ => return Err(usage(arg.unexpected())),
        }
    }

    let key = match (key_file, autokey) {
        (Some(_), Some(_)) => {
            return Err(UsageError(
                "-k and -a exclude each other: use -k for a shared key, -a for a local one".into(),
            ));
        }
        (Some(k), None) if names_stdin(&k) => KeySpec::Stdin,
        (Some(k), None) => KeySpec::File(k),
        (None, Some(a)) => KeySpec::Autokey(a),
        (None, None) => KeySpec::Default,
    };
    if check && print_timer {
        return Err(UsageError(
            "--check and --print-timer exclude each other".into(),
        ));
    }
    let settings = match named {
        true => Settings::CommandLine,
        false => Settings::Unnamed,
    };
    if print_timer {
        return Ok(Command::PrintTimer(interval, settings));
    }
    // The outputs know their files' names: the check is theirs (outputs.rs).
    if let Some(clash) = tickets.name_clash() {
        return Err(UsageError(clash));
    }
    if tfo_only && (tickets != Tickets::default() || metrics.is_some()) {
        return Err(UsageError(
            "--tfo-only sets the TCP Fast Open key alone: leave out the ticket and metrics \
             options"
                .into(),
        ));
    }
    if tickets.haproxy_socket.is_some() && tickets.haproxy_file.is_none() {
        return Err(UsageError(
            "--haproxy-socket needs --haproxy-tickets FILE: HAProxy names a listener's keys by \
             the file its tls-ticket-keys loads"
                .into(),
        ));
    }
    let next_key = match (next_key, next_key_at) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(UsageError(
                "--next-key needs --next-key-at UNIXTIME: the instant the next key takes over"
                    .into(),
            ));
        }
        (_, Some(at)) if !at.secs().is_multiple_of(interval.secs()) => {
            let below = at.secs() / interval.secs() * interval.secs();
            return Err(UsageError(format!(
                "--next-key-at: {} is not a multiple of the interval ({} s): take {below} or {}",
                at.secs(),
                interval.secs(),
                below + interval.secs()
            )));
        }
        // Without --next-key, the credential: whether it is there is the
        // run's to find out.
        (path, Some(at)) => Some(NextKey {
            key: path.map_or(NextKeySpec::Credential, NextKeySpec::File),
            at,
        }),
    };
    let tipc = match (tipc, tipc_rekeying) {
        (false, Some(_)) => {
            return Err(UsageError(
                "--tipc-rekeying needs --tipc: the rekeying is of TIPC's keys".into(),
            ));
        }
        (false, None) => None,
        (true, rekeying) => Some(Tipc { rekeying }),
    };
    let options = Options {
        key,
        interval,
        verbose,
        show_keys,
        dry_run,
        target,
        time,
        tickets,
        metrics,
        settings,
        tfo_only,
        next_key,
        tipc,
    };
    Ok(if check {
        Command::Check(options)
    } else {
        Command::Run(options)
    })
}

/// True when the arguments ask for `--check` (before any `--`), so that
/// even a usage error is answered the monitoring way (UNKNOWN, exit 3).
pub fn asks_check(args: &[OsString]) -> bool {
    args.iter()
        .map(|a| a.as_bytes())
        .take_while(|a| *a != b"--")
        .any(|a| a == b"--check" || a.starts_with(b"--check="))
}

/// True when a `-k` path is `-` or `/dev/stdin`: the key is piped in.
fn names_stdin(path: &Path) -> bool {
    matches!(path.as_os_str().as_bytes(), b"-" | b"/dev/stdin")
}

fn usage(e: lexopt::Error) -> UsageError {
    UsageError(e.to_string())
}

/// A key path: not empty (1.3.4 refuses it), and a file's (below).
fn key_path(opt: &str, value: Result<OsString, lexopt::Error>) -> Result<PathBuf, UsageError> {
    let value = value.map_err(usage)?;
    if value.is_empty() {
        return Err(UsageError(format!("{opt}: empty path: give a key file")));
    }
    file_path(opt, Ok(value))
}

/// A file's path: not empty, and ending in a file name, not in `/`, `.`
/// or `..` (1.3.4 refuses a trailing `/`): `x/.` would otherwise be taken
/// for the file `x`.
fn file_path(opt: &str, value: Result<OsString, lexopt::Error>) -> Result<PathBuf, UsageError> {
    let value = path(opt, value)?;
    if file_name(&value).is_none() {
        return Err(UsageError(format!(
            "{opt}: '{}' ends in '/', '.' or '..', or is not UTF-8: give a file's path",
            value.display()
        )));
    }
    Ok(value)
}

/// A ticket output's path: not empty.
fn path(opt: &str, value: Result<OsString, lexopt::Error>) -> Result<PathBuf, UsageError> {
    let value = value.map_err(usage)?;
    if value.is_empty() {
        return Err(UsageError(format!("{opt}: empty path")));
    }
    Ok(PathBuf::from(value))
}

/// A decimal number of seconds: digits only (no sign, no spaces), fits u64.
fn number(opt: &str, value: Result<OsString, lexopt::Error>) -> Result<u64, UsageError> {
    let value = value.map_err(usage)?;
    let text = value.to_string_lossy();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UsageError(format!("{opt}: '{text}' is not a whole number")));
    }
    text.parse()
        .map_err(|_| UsageError(format!("{opt}: '{text}' is too large")))
}

#[cfg(test)]
mod tests;
