//! What a key-setting run says: its entry (what was set, the counters,
//! when they change next), the `STATUS=` line, the `-V` line, the autokey
//! and clock warnings, and a failure's entry.

use std::fmt::Write as _;
use std::path::Path;

use zeroize::Zeroizing;

use super::vocabulary::*;
use crate::counters::{Counters, UnixTime, Utc};
use crate::keys::PairText;
use crate::metrics::NextKeyInfo;
use crate::tickets::Schedule;
use crate::timesync::ClockSync;
use crate::tipc::Applied;

/// `-v`: where the main key comes from.
pub fn key_source(label: &str) -> Entry<'static> {
    Entry::plain(Level::Info, format!("main key from {label}"))
}

/// `-V`: the exact line 1.3.4 prints (scripts grep for it). It holds the
/// keys: wiped on drop.
pub fn keys_line(now: UnixTime, pair: &PairText) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "Generated ASCII TFO keys for procfs write: [{}] {}",
        now.secs(),
        String::from_utf8_lossy(pair.text())
    ))
}

/// The warning of every autokey run: no cross-host sync.
pub fn autokey(label: &str, created: bool) -> Entry<'_> {
    let (event, what) = match created {
        true => (Event::AutokeyCreated, "created a new random main key as"),
        false => (Event::AutokeyUsed, "using the main key in"),
    };
    Entry {
        level: Level::Warning,
        event: Some(event),
        message: format!(
            "{what} {label}: autokey mode gives no cross-host sync; give every host the same \
             key with -k or the credential tofurkey.key"
        ),
        fields: vec![(KEY_SOURCE, label.into())],
    }
}

/// What reached the running HAProxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    /// It is not running: nothing to push (it reads the file when it
    /// starts).
    NotRunning,
    /// Keys appended to its ring.
    Keys {
        /// How many (0 to 3; 0: it held the set already).
        count: usize,
        /// The ring held none of the set's keys: keys of another main key
        /// or tool (or three rotations missed), all replaced.
        foreign: bool,
    },
}

/// What a clock warning says the run did with the keys: a dry run set
/// none.
fn set_anyway_or_not(dry_run: bool) -> &'static str {
    match dry_run {
        true => " (a dry run: nothing set)",
        false => "; keys set anyway",
    }
}

/// The warning of a run whose wall clock is not synchronized.
pub fn unsynchronized(dry_run: bool) -> Entry<'static> {
    Entry {
        level: Level::Warning,
        event: Some(Event::ClockUnsynchronized),
        message: format!(
            "the system clock is not synchronized (the kernel's NTP state): its keys may not be \
             the fleet's{}: run a time daemon (systemd-timesyncd, chrony)",
            set_anyway_or_not(dry_run)
        ),
        fields: vec![(CLOCK_SYNCHRONIZED, ClockSync::Unsynchronized.flag().into())],
    }
}

/// The warning of every run from T + I on while a rollover is still
/// configured: the next key now derives every key, so it is the main key.
pub fn rollover_done(next: &NextKeyInfo) -> Entry<'_> {
    Entry {
        level: Level::Warning,
        event: None,
        message: format!(
            "the rollover to main key id {} at {} ({}) is done: make the next key the main key \
             (tofurkey.key.next becomes tofurkey.key, or -k) and remove NEXT_KEY_AT \
             (--next-key-at) and NEXT_KEY (--next-key)",
            next.id,
            next.at,
            Utc(next.at)
        ),
        fields: vec![
            (NEXT_KEY_ID, next.id.as_str().into()),
            (ROLLOVER_AT, next.at.into()),
        ],
    }
}

/// The warning of a run that could not read the kernel's NTP state
/// (`why`: adjtimex's error): whether the clock is synchronized is
/// unknown. The same event as an unsynchronized clock (one alert catches
/// both); its field says which.
pub fn clock_unknown(why: &str, dry_run: bool) -> Entry<'static> {
    Entry {
        level: Level::Warning,
        event: Some(Event::ClockUnsynchronized),
        message: format!(
            "whether the system clock is synchronized is unknown (adjtimex: {why}): its keys \
             may not be the fleet's{}: allow the adjtimex and clock_adjtime system calls (read \
             only; a container or a system call filter refuses them), or watch the clock where \
             it is kept (timedatectl on the host)",
            set_anyway_or_not(dry_run)
        ),
        fields: vec![(CLOCK_SYNCHRONIZED, ClockSync::Unknown.flag().into())],
    }
}

/// What the ticket outputs changed, output by output (`None`: not asked).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// nginx key files replaced (0 to 3).
    pub nginx: Option<usize>,
    /// Whether HAProxy's file was replaced.
    pub haproxy_file: Option<bool>,
    /// What reached the running HAProxy.
    pub haproxy_runtime: Option<Push>,
}

impl Written {
    /// `nginx 3 files replaced, HAProxy file unchanged, …`, or `None` when
    /// no output was written.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(n) = self.nginx {
            parts.push(match n {
                0 => "nginx files unchanged".to_string(),
                n => format!("nginx {n} of 3 files replaced"),
            });
        }
        if let Some(changed) = self.haproxy_file {
            parts.push(match changed {
                true => "HAProxy file replaced".to_string(),
                false => "HAProxy file unchanged".to_string(),
            });
        }
        if let Some(push) = self.haproxy_runtime {
            parts.push(match push {
                Push::NotRunning => "HAProxy not running: nothing pushed".to_string(),
                Push::Keys { count: 0, .. } => "running HAProxy already in sync".to_string(),
                Push::Keys { count: 1, .. } => "1 key pushed to the running HAProxy".to_string(),
                Push::Keys { count, .. } => format!("{count} keys pushed to the running HAProxy"),
            });
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// What a run did with ticket keys.
pub struct TicketOutcome<'a> {
    /// The schedule the set was derived for.
    pub schedule: Schedule,
    /// The set's fingerprint.
    pub tickets_id: &'a str,
    /// What changed (nothing with `-n`).
    pub written: Written,
}

/// What a key-setting run did, for its entry and its `STATUS=` line.
pub struct Outcome<'a> {
    /// The counters it computed.
    pub counters: &'a Counters,
    /// Where the main key came from (its label).
    pub source: &'a str,
    /// The file written (or, with `-n`, not written).
    pub target: &'a Path,
    /// The main key's fingerprint.
    pub main_id: &'a str,
    /// The pair's fingerprint.
    pub keys_id: &'a str,
    /// `-n`: nothing was written.
    pub dry_run: bool,
    /// The ticket keys, if any output was asked for.
    pub tickets: Option<TicketOutcome<'a>>,
    /// The kernel's word on the wall clock (unknown: it could not be read).
    pub clock: ClockSync,
    /// The rollover configured, if any: the next key's id and T.
    pub rollover: Option<&'a NextKeyInfo>,
    /// What `--tipc` did, if asked (not in a dry run).
    pub tipc: Option<&'a Applied>,
}

impl Outcome<'_> {
    /// The run's entry: what was done, the counters, when they change next.
    pub fn entry(&self) -> Entry<'_> {
        let c = self.counters;
        let (now, next) = (c.now.secs(), c.next_rotation);
        let (event, what) = match self.dry_run {
            true => (Event::DryRun, "dry run (-n), keys not written"),
            false => (Event::KeysSet, "keys set"),
        };
        let mut m = format!(
            "{what}: time {now} ({}), interval {}, counters {} primary {} backup, next rotation \
             {next} ({}, in {} s), {}, main key id {}, keys id {}",
            Utc(now),
            c.interval.secs(),
            c.primary,
            c.backup,
            Utc(next),
            c.secs_to_rotation(),
            self.source,
            self.main_id,
            self.keys_id
        );
        let mut fields: Fields = Vec::with_capacity(FIELDS.len());
        fields.extend([
            (UNIX_TIME, now.into()),
            (INTERVAL, c.interval.secs().into()),
            (CTR_PRIMARY, c.primary.into()),
            (CTR_BACKUP, c.backup.into()),
            (NEXT_ROTATION, next.into()),
            (KEY_SOURCE, self.source.into()),
            (TARGET, Value::Text(self.target.to_string_lossy())),
            (MAIN_KEY_ID, self.main_id.into()),
            (KEYS_ID, self.keys_id.into()),
        ]);
        fields.push((CLOCK_SYNCHRONIZED, self.clock.flag().into()));
        if let Some(r) = self.rollover {
            let _ = write!(
                m,
                ", next main key id {} from {} ({})",
                r.id,
                r.at,
                Utc(r.at)
            );
            fields.push((NEXT_KEY_ID, r.id.as_str().into()));
            fields.push((ROLLOVER_AT, r.at.into()));
        }
        if let Some(t) = &self.tickets {
            let change = t.schedule.next_change();
            let _ = write!(
                m,
                "; ticket keys: counter {}, next change {change} ({}), tickets id {}",
                t.schedule.current,
                Utc(change),
                t.tickets_id
            );
            fields.push((TICKETS_ID, t.tickets_id.into()));
            fields.push((TICKET_CTR, t.schedule.current.into()));
            if let Some(s) = t.written.summary() {
                let _ = write!(m, ", {s}");
                fields.push((TICKETS_CHANGED, s.into()));
            }
        }
        if let Some(t) = self.tipc {
            let _ = write!(m, "; {}", tipc_summary(t));
            fields.push((TIPC_KEY_ID, t.id.as_str().into()));
        }
        Entry {
            level: Level::Info,
            event: Some(event),
            message: m,
            fields,
        }
    }

    /// The `STATUS=` line `systemctl status` shows.
    pub fn status(&self) -> String {
        let c = self.counters;
        let what = match self.dry_run {
            true => "Dry run",
            false => "Keys set",
        };
        let tickets = self
            .tickets
            .as_ref()
            .map_or(String::new(), |t| format!(", tickets id {}", t.tickets_id));
        let clock = match self.clock {
            ClockSync::Synchronized => "",
            ClockSync::Unsynchronized => ", clock not synchronized",
            ClockSync::Unknown => ", clock state unknown",
        };
        let rollover = self.rollover.map_or(String::new(), |r| {
            format!(", next main key id {} from {}", r.id, Utc(r.at))
        });
        let tipc = self
            .tipc
            .map_or(String::new(), |t| format!(", TIPC key id {}", t.id));
        format!(
            "{what}: counters {}/{}, next rotation {}, keys id {}{tickets}{rollover}{tipc}{clock}",
            c.primary,
            c.backup,
            Utc(c.next_rotation),
            self.keys_id
        )
    }
}

/// What a run that failed set all the same: the TFO keys (`tfo`), the
/// ticket outputs `written` and TIPC's key (`tipc`); `None` when nothing.
pub fn set_anyway(tfo: bool, written: &Written, tipc: Option<&Applied>) -> Option<String> {
    let tfo = tfo.then(|| "TFO keys".to_string());
    let parts: Vec<String> = tfo
        .into_iter()
        .chain(written.summary())
        .chain(tipc.map(tipc_summary))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `TIPC master key id ID set` (or `in place`), and a rekeying interval set.
fn tipc_summary(t: &Applied) -> String {
    let what = match t.key_set {
        true => "set",
        false => "in place",
    };
    let rekeying = t
        .rekeying_set
        .map_or(String::new(), |m| format!(", rekeying every {m} min set"));
    format!("TIPC master key id {} {what}{rekeying}", t.id)
}

/// A failed run's entry and its `STATUS=` line; `message` is the error.
pub fn failure(message: &str) -> (Entry<'static>, String) {
    let entry = Entry {
        level: Level::Error,
        event: Some(Event::Failure),
        message: message.to_string(),
        fields: Fields::new(),
    };
    (entry, format!("Failed: {message}"))
}

#[cfg(test)]
pub(super) mod tests;
