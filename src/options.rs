//! What an invocation asks for, once parsed: [`cli`](crate::cli) produces
//! a [`Command`]; `main.rs`, the key source and the outputs consume it.
//! Plain data, with the defaults the command line falls back to: nothing
//! here parses, checks a path, or touches a file.

use std::path::PathBuf;

use crate::counters::{Interval, UnixTime};

/// The procfs file the kernel reads the server keys from (one per network
/// namespace): the target unless `-P` names another.
pub(crate) const DEFAULT_TARGET: &str = "/proc/sys/net/ipv4/tcp_fastopen_key";

/// What this invocation is asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Compute and set the keys (the normal run).
    Run(Options),
    /// Compare the target with the expected keys.
    Check(Options),
    /// Print the timer drop-in for an interval (and where it came from).
    PrintTimer(Interval, Settings),
    /// Print the usage text.
    Help,
    /// Print the version.
    Version,
}

/// Options of a key-setting (or checking) run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The main key source.
    pub key: KeySpec,
    /// The rotation interval.
    pub interval: Interval,
    /// `-v` (or `-V`).
    pub verbose: bool,
    /// `-V`: also print the keys.
    pub show_keys: bool,
    /// `-n`: no write.
    pub dry_run: bool,
    /// The file to write (procfs, or `-P`).
    pub target: PathBuf,
    /// `-T`: a fake time instead of the clock.
    pub time: Option<UnixTime>,
    /// Where TLS session-ticket keys go (nowhere by default).
    pub tickets: Tickets,
    /// `--metrics PATH`: the Prometheus text file to replace.
    pub metrics: Option<PathBuf>,
    /// Where the key source, interval, target and outputs came from.
    pub settings: Settings,
    /// `--tfo-only`: the namespace's own keys (TCP Fast Open, and TIPC's
    /// when asked), no ticket output or metrics, even from the settings
    /// file (a namespace instance: tofurkey.service writes those).
    pub tfo_only: bool,
    /// `--next-key PATH --next-key-at T`: a rollover to the next main key.
    pub next_key: Option<NextKey>,
    /// `--tipc`: set TIPC's cluster master key in the run's namespace.
    pub tipc: Option<Tipc>,
}

/// `--tipc` and its rekeying interval.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tipc {
    /// `--tipc-rekeying MINUTES`: the kernel's rekeying interval (0: off);
    /// `None` leaves the kernel's as it is.
    pub rekeying: Option<u32>,
}

/// A scheduled rollover, as the command line asked: where the next main
/// key comes from and the instant T it takes over (a multiple of the
/// interval).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextKey {
    /// `--next-key PATH`, or the credential.
    pub key: NextKeySpec,
    /// `--next-key-at UNIXTIME`.
    pub at: UnixTime,
}

/// Where the next main key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextKeySpec {
    /// `--next-key PATH`.
    File(PathBuf),
    /// No `--next-key`: the credential `tofurkey.key.next`, as the service
    /// loads it (a manual run looks where systemd would).
    Credential,
}

impl NextKey {
    /// The first counter the next key derives: T / I.
    pub fn first_counter(&self, interval: Interval) -> u64 {
        self.at.secs() / interval.secs()
    }
}

/// Where a command's settings (key source, interval, target, outputs,
/// metrics) came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settings {
    /// The command line named at least one: it is taken as it is.
    CommandLine,
    /// It named none: the service's, from the settings file if there is
    /// one (see [`crate::config`]), else the defaults.
    Unnamed,
    /// Taken from this settings file (the command line named none).
    File(PathBuf),
}

/// Where the main key comes from, as the command line asked
/// ([`Source::choose`](crate::keysource::Source::choose) resolves it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySpec {
    /// Neither `-k` nor `-a`: the credential if present, else the default autokey.
    Default,
    /// `-k PATH`.
    File(PathBuf),
    /// `-k -` or `-k /dev/stdin`: the key is piped in.
    Stdin,
    /// `-a PATH`: only the autokey, never the credential.
    Autokey(PathBuf),
}

/// The ticket key outputs asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tickets {
    /// `--nginx-tickets DIR`.
    pub nginx: Option<PathBuf>,
    /// `--haproxy-tickets FILE`.
    pub haproxy_file: Option<PathBuf>,
    /// `--haproxy-socket PATH` (only with `haproxy_file`: the runtime API
    /// names a listener's keys by the file it loaded).
    pub haproxy_socket: Option<PathBuf>,
}
