//! The settings file, `/etc/default/tofurkey`: the settings of every run
//! whose command line names none — tofurkey.service, each tofurkey@NAME,
//! the timer's schedule (tofurkey-generator runs `--print-timer`), and a
//! manual `tofurkey` or `tofurkey --check` — read by tofurkey itself, so
//! that they cannot disagree. A command line that names a setting is taken
//! as it is: it is another job (a test, another target), not the service's.
//!
//! Lines `NAME=value` (the value may be in double or single quotes), `#`
//! comments and blank lines: read the same by a shell and by systemd's
//! `EnvironmentFile=`. Each setting stands for one option, and the options
//! are parsed as if given first on the command line; a line that is not
//! one of them is an error naming it, so that a typo never passes
//! silently. An empty value leaves its setting unset.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cli::{self, UsageError};
use crate::fileio::{self, Kind, NotRegularFile, WRITABLE_BY_OTHERS, os_error, trusted_owner};
use crate::options::{Command, Options, Settings};

/// Where the settings are.
pub const SETTINGS_FILE: &str = "/etc/default/tofurkey";
/// Each setting and the option it stands for.
pub const SETTINGS: [(&str, &str); 9] = [
    ("INTERVAL", "--interval"),
    ("NEXT_KEY", "--next-key"),
    ("NEXT_KEY_AT", "--next-key-at"),
    ("NGINX_TICKETS", "--nginx-tickets"),
    ("HAPROXY_TICKETS", "--haproxy-tickets"),
    ("HAPROXY_SOCKET", "--haproxy-socket"),
    ("METRICS", "--metrics"),
    ("TIPC", "--tipc"),
    ("TIPC_REKEYING", "--tipc-rekeying"),
];
/// The settings that stand for a flag: `yes` gives it, `no` (or nothing)
/// leaves it out.
const FLAGS: [&str; 1] = ["--tipc"];
/// The options of the settings a `--tfo-only` run takes: what a network
/// namespace's own keys derive from (the interval, a rollover's next key
/// and T) and TIPC's master key, which is the namespace's too.
const TFO_OPTIONS: [&str; 5] = [
    "--interval",
    "--next-key",
    "--next-key-at",
    "--tipc",
    "--tipc-rekeying",
];
/// The most of the file read: the shipped one, comments and all, is under
/// 4 kB.
const READ_MAX: usize = 64 * 1024;

/// Why the settings file cannot be used.
#[derive(Debug)]
pub struct SettingsError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub problem: Problem,
}

/// What is wrong with the settings file.
#[derive(Debug)]
pub enum Problem {
    /// It could not be read.
    Read(io::Error),
    /// It is not a regular file.
    NotRegular(Kind),
    /// Another user owns or can write it: it decides where root writes.
    Untrusted {
        /// Its owner.
        owner: u32,
        /// Its permission bits.
        mode: u32,
    },
    /// It is longer than any settings file.
    TooLong,
    /// A line is not `NAME=value` of a known setting (`line` from 1).
    Line {
        /// The line's number.
        line: usize,
        /// What is wrong with it.
        why: LineError,
    },
    /// The settings, as options, are refused.
    Usage(UsageError),
}

/// What is wrong with a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    /// No `=`.
    NotASetting,
    /// A name that is not a setting.
    Unknown(String),
    /// A quote, `\` or `$` that this reader does not interpret the way a
    /// shell would.
    Quoting,
    /// A yes-or-no setting with another value.
    YesNo(String),
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.problem {
            Problem::Read(why) => write!(f, "cannot read settings {path}: {}", os_error(why)),
            Problem::NotRegular(kind) => write!(f, "settings {}", NotRegularFile(path, *kind)),
            Problem::Untrusted { owner, mode } => write!(
                f,
                "settings {path} (owner uid {owner}, mode {mode:04o}) can be changed by another \
                 user"
            ),
            Problem::TooLong => write!(f, "settings {path}: longer than {READ_MAX} bytes"),
            Problem::Line { line, why } => {
                write!(f, "settings {path} line {line}: ")?;
                match why {
                    LineError::NotASetting => f.write_str("not NAME=value"),
                    LineError::Unknown(name) => write!(f, "no setting is named {name}"),
                    LineError::Quoting => {
                        f.write_str("a quote, a backslash or '$' inside a value is not read here")
                    }
                    LineError::YesNo(name) => write!(f, "{name} is yes or no"),
                }
            }
            Problem::Usage(e) => write!(f, "settings {path}: {e}"),
        }
    }
}

impl SettingsError {
    /// What the admin should do about it (printed after the message).
    pub fn fix(&self) -> Option<&'static str> {
        Some(match &self.problem {
            Problem::Read(_) => "check the file and its permissions, or run as root",
            Problem::NotRegular(_) => "make it a file: the package ships one",
            Problem::Untrusted { .. } => "'chown root: FILE; chmod go-w FILE'",
            Problem::TooLong => "keep only the settings (INTERVAL=, NGINX_TICKETS=, ...)",
            Problem::Line {
                why: LineError::Quoting,
                ..
            } => "write the value plainly: paths and numbers need no quoting",
            Problem::Line {
                why: LineError::YesNo(_),
                ..
            } => "write yes or no",
            Problem::Line { .. } => {
                "the settings are INTERVAL, NEXT_KEY_AT, NEXT_KEY, NGINX_TICKETS, \
                 HAPROXY_TICKETS, HAPROXY_SOCKET, METRICS, TIPC and TIPC_REKEYING (see the file's \
                 comments)"
            }
            Problem::Usage(_) => "correct the setting, as the option it stands for",
        })
    }
}

/// The settings in `text`, in order, each as its option and value.
pub fn arguments(text: &str) -> Result<Vec<(&'static str, String)>, (usize, LineError)> {
    let mut args = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |why| (i + 1, why);
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| fail(LineError::NotASetting))?;
        let (name, value) = (name.trim(), unquote(value.trim()).map_err(fail)?);
        let option = SETTINGS
            .iter()
            .find(|(setting, _)| *setting == name)
            .map(|(_, option)| *option)
            .ok_or_else(|| fail(LineError::Unknown(name.to_string())))?;
        // A flag is its option alone (an empty value); else the option
        // and its value.
        match (FLAGS.contains(&option), value) {
            (true, "yes") => args.push((option, String::new())),
            (true, "no" | "") => {}
            (true, _) => return Err(fail(LineError::YesNo(name.to_string()))),
            (false, "") => {}
            (false, value) => args.push((option, value.to_string())),
        }
    }
    Ok(args)
}

/// A value without its one pair of quotes; one that holds a quote, `\` or
/// `$` otherwise is refused (a shell would read it otherwise).
fn unquote(value: &str) -> Result<&str, LineError> {
    let inner = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q))
        .unwrap_or(value);
    match inner.contains(['"', '\'', '\\', '$']) {
        true => Err(LineError::Quoting),
        false => Ok(inner),
    }
}

/// The command to run: `command` (parsed from `args`), or, when its
/// command line named no setting and the settings file holds some, parsed
/// again with them before `args`.
pub fn apply(command: Command, args: Vec<OsString>) -> Result<Command, SettingsError> {
    let (unnamed, tfo_only) = match &command {
        Command::Run(o) | Command::Check(o) => (o.settings == Settings::Unnamed, o.tfo_only),
        Command::PrintTimer(_, settings) => (*settings == Settings::Unnamed, true),
        Command::Help | Command::Version => (false, false),
    };
    let path = Path::new(SETTINGS_FILE);
    let text = match unnamed {
        true => read(path)?,
        false => None,
    };
    let fail = |problem| SettingsError {
        path: path.to_path_buf(),
        problem,
    };
    let settings = match text.as_deref().map(arguments).transpose() {
        Ok(settings) => settings.unwrap_or_default(),
        Err((line, why)) => return Err(fail(Problem::Line { line, why })),
    };
    // With --tfo-only (a namespace instance: tofurkey.service writes the
    // outputs and the metrics), the interval and the rollover alone.
    let mut merged: Vec<OsString> = settings
        .into_iter()
        .filter(|(option, _)| !tfo_only || TFO_OPTIONS.contains(option))
        .flat_map(|(option, value)| {
            let value = (!value.is_empty()).then(|| value.into());
            std::iter::once(option.into()).chain(value)
        })
        .collect();
    if merged.is_empty() {
        return Ok(command);
    }
    merged.extend(args);
    let file = Settings::File(path.to_path_buf());
    Ok(
        match cli::parse(merged).map_err(|e| fail(Problem::Usage(e)))? {
            Command::Run(o) => Command::Run(from(o, file)),
            Command::Check(o) => Command::Check(from(o, file)),
            Command::PrintTimer(interval, _) => Command::PrintTimer(interval, file),
            other => other,
        },
    )
}

/// `options` with their settings' origin.
fn from(options: Options, settings: Settings) -> Options {
    Options {
        settings,
        ..options
    }
}

/// The settings file's text; `None` if there is none. It must be a
/// regular file that root or the running user owns and no one else can
/// write: it decides where root writes keys.
fn read(path: &Path) -> Result<Option<String>, SettingsError> {
    let fail = |problem| SettingsError {
        path: path.to_path_buf(),
        problem,
    };
    let mut file = match fileio::open_regular(path, false) {
        Ok(file) => file,
        Err(fileio::OpenError::Io(why)) if why.kind() == io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(fileio::OpenError::Io(why)) => return Err(fail(Problem::Read(why))),
        Err(fileio::OpenError::NotRegular(kind)) => return Err(fail(Problem::NotRegular(kind))),
    };
    let meta = file.metadata().map_err(|e| fail(Problem::Read(e)))?;
    let (owner, mode) = (meta.uid(), meta.mode() & 0o7777);
    if !trusted_owner(owner) || mode & WRITABLE_BY_OTHERS != 0 {
        return Err(fail(Problem::Untrusted { owner, mode }));
    }
    let mut buf = vec![0u8; READ_MAX + 1];
    let len = fileio::read_up_to(&mut file, &mut buf).map_err(|e| fail(Problem::Read(e)))?;
    if len > READ_MAX {
        return Err(fail(Problem::TooLong));
    }
    buf.truncate(len);
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| fail(Problem::Read(io::ErrorKind::InvalidData.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Result<Vec<String>, (usize, LineError)> {
        arguments(text).map(|a| {
            a.into_iter()
                .flat_map(|(option, value)| {
                    let value = (!value.is_empty()).then_some(value);
                    std::iter::once(option.to_string()).chain(value)
                })
                .collect()
        })
    }

    #[test]
    fn each_setting_stands_for_its_option() {
        let text = "\
# a comment
  # an indented one

INTERVAL=3600
NGINX_TICKETS=\"/run/tofurkey\"
HAPROXY_TICKETS='/run/tofurkey/haproxy.keys'
HAPROXY_SOCKET = /run/haproxy/admin.sock
METRICS=
";
        assert_eq!(
            args(text).unwrap(),
            [
                "--interval",
                "3600",
                "--nginx-tickets",
                "/run/tofurkey",
                "--haproxy-tickets",
                "/run/tofurkey/haproxy.keys",
                "--haproxy-socket",
                "/run/haproxy/admin.sock",
            ]
        );
        assert_eq!(args("# only comments\n").unwrap(), Vec::<String>::new());
    }

    /// The shipped file sets nothing; each example, uncommented, is a
    /// valid setting, and all of them together a valid command.
    #[test]
    fn the_shipped_file_and_its_examples() {
        let shipped = include_str!("../etc/default-tofurkey");
        assert_eq!(args(shipped).unwrap(), Vec::<String>::new());
        let examples: String = shipped
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .filter(|l| {
                l.split_once('=')
                    .is_some_and(|(n, _)| SETTINGS.iter().any(|s| s.0 == n))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let all = args(&examples).unwrap();
        assert_eq!(all.len(), 2 * SETTINGS.len() - FLAGS.len(), "{examples}");
        let command = cli::parse(all.iter().map(OsString::from)).unwrap();
        assert!(matches!(command, Command::Run(o) if o.settings == Settings::CommandLine));
    }

    #[test]
    fn a_yes_or_no_setting_is_its_flag_or_nothing() {
        assert_eq!(args("TIPC=yes\n").unwrap(), ["--tipc"]);
        assert_eq!(args("TIPC=no\nTIPC=\n").unwrap(), Vec::<String>::new());
        assert_eq!(args("TIPC=1\n"), Err((1, LineError::YesNo("TIPC".into()))));
        assert_eq!(
            args("TIPC=yes\nTIPC_REKEYING=60\n").unwrap(),
            ["--tipc", "--tipc-rekeying", "60"]
        );
    }

    #[test]
    fn a_line_that_is_no_setting_is_named() {
        assert_eq!(
            args("INTERVAL=60\nnonsense\n"),
            Err((2, LineError::NotASetting))
        );
        assert_eq!(
            args("NGINX_TICKET=/run/t\n"),
            Err((1, LineError::Unknown("NGINX_TICKET".into())))
        );
        for value in ["\"/run/t", "/run/$X", "'a'\"b\"", "a\\ b"] {
            assert_eq!(
                args(&format!("METRICS={value}\n")),
                Err((1, LineError::Quoting)),
                "{value}"
            );
        }
        let e = SettingsError {
            path: SETTINGS_FILE.into(),
            problem: Problem::Line {
                line: 2,
                why: LineError::Unknown("NGINX_TICKET".into()),
            },
        };
        assert_eq!(
            e.to_string(),
            "settings /etc/default/tofurkey line 2: no setting is named NGINX_TICKET"
        );
    }
}
