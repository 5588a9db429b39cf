//! The Prometheus text file of a run, for node_exporter's textfile
//! collector: pure (`promfile.rs` writes it). Names are pinned (README:
//! dashboards and alert rules use them); values are times, counts and
//! fingerprints, never a byte of a key.

use std::fmt::Write;

use crate::timesync::ClockSync;

/// The metric carried over from the previous file when a run fails.
const LAST_SUCCESS: &str = "tofurkey_last_success_timestamp_seconds";

/// What one run reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metrics {
    /// The run's time (`-T` when given).
    pub run: u64,
    /// Whether the run did all it was asked.
    pub success: bool,
    /// The last run that succeeded: this one, or the previous file's.
    pub last_success: Option<u64>,
    /// The interval.
    pub interval: u64,
    /// When the TFO pair changes next.
    pub next_rotation: u64,
    /// The pair's and the main key's fingerprints, when the key was read.
    pub keys: Option<(String, String)>,
    /// The ticket set's fingerprint, when ticket outputs were asked for.
    pub tickets_id: Option<String>,
    /// The kernel's word on the clock (unknown when it could not be read).
    pub clock: ClockSync,
    /// The rollover a run that read the keys holds, if one is configured.
    pub rollover: Option<NextKeyInfo>,
}

/// A configured rollover, in non-secret words: the next main key's
/// fingerprint and the instant T it takes over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextKeyInfo {
    /// The next main key's fingerprint.
    pub id: String,
    /// T, Unix time.
    pub at: u64,
}

impl Metrics {
    /// The file's text, in the exposition format (HELP, TYPE, sample).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(1024);
        let mut gauge = |name: &str, help: &str, sample: &str| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{sample}\n"
            );
        };
        gauge(
            "tofurkey_last_run_timestamp_seconds",
            "Unix time of the last run.",
            &format!(" {}", self.run),
        );
        if let Some(t) = self.last_success {
            gauge(
                LAST_SUCCESS,
                "Unix time of the last run that set every key asked for.",
                &format!(" {t}"),
            );
        }
        gauge(
            "tofurkey_last_run_success",
            "1 if the last run set every key asked for, else 0.",
            if self.success { " 1" } else { " 0" },
        );
        gauge(
            "tofurkey_next_rotation_timestamp_seconds",
            "Unix time of the next change of the TCP Fast Open key pair.",
            &format!(" {}", self.next_rotation),
        );
        gauge(
            "tofurkey_interval_seconds",
            "The key rotation interval.",
            &format!(" {}", self.interval),
        );
        if let Some((keys_id, main_id)) = &self.keys {
            gauge(
                "tofurkey_keys_info",
                "Fingerprints of the key pair and the main key (and the interval): equal on hosts in sync.",
                &format!(
                    "{{keys_id=\"{keys_id}\",main_key_id=\"{main_id}\",interval=\"{}\"}} 1",
                    self.interval
                ),
            );
        }
        if let Some(next) = &self.rollover {
            gauge(
                "tofurkey_rollover_timestamp_seconds",
                "Unix time at which the next main key takes over (absent without a rollover).",
                &format!(" {}", next.at),
            );
            gauge(
                "tofurkey_next_key_info",
                "Fingerprint of the next main key: a host holding it is ready for the rollover.",
                &format!("{{main_key_id=\"{}\"}} 1", next.id),
            );
        }
        if let Some(id) = &self.tickets_id {
            gauge(
                "tofurkey_tickets_info",
                "Fingerprint of the TLS ticket key set: equal on hosts in sync.",
                &format!("{{tickets_id=\"{id}\"}} 1"),
            );
        }
        // Always there: a clock whose state is unknown is as alarming as
        // one not synchronized, and an absent sample would fire no alert.
        gauge(
            "tofurkey_clock_synchronized",
            "1 if the kernel holds the wall clock synchronized, 0 if not, -1 if its state \
             could not be read (adjtimex refused).",
            &format!(" {}", self.clock.flag()),
        );
        out
    }
}

/// The last success recorded in a previous file, if any.
pub fn last_success(previous: &str) -> Option<u64> {
    previous.lines().find_map(|line| {
        let value = line.strip_prefix(LAST_SUCCESS)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(success: bool) -> Metrics {
        Metrics {
            run: 1_000_000,
            success,
            last_success: Some(999_000),
            interval: 86_400,
            next_rotation: 1_036_800,
            keys: Some(("3c6bf71f91f4ae4f".into(), "7ad202034d831e12".into())),
            tickets_id: Some("18e865e338bc5e94".into()),
            clock: ClockSync::Unsynchronized,
            rollover: None,
        }
    }

    #[test]
    fn the_pinned_names_and_values() {
        let text = sample(true).render();
        for line in [
            "tofurkey_last_run_timestamp_seconds 1000000",
            "tofurkey_last_success_timestamp_seconds 999000",
            "tofurkey_last_run_success 1",
            "tofurkey_next_rotation_timestamp_seconds 1036800",
            "tofurkey_interval_seconds 86400",
            "tofurkey_keys_info{keys_id=\"3c6bf71f91f4ae4f\",main_key_id=\"7ad202034d831e12\",interval=\"86400\"} 1",
            "tofurkey_tickets_info{tickets_id=\"18e865e338bc5e94\"} 1",
            "tofurkey_clock_synchronized 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        // Every sample has its HELP and TYPE.
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(text.matches("# TYPE ").count(), samples);
        assert_eq!(text.matches("# HELP ").count(), samples);
        assert!(
            sample(false)
                .render()
                .contains("\ntofurkey_last_run_success 0\n")
        );
        let bare = Metrics {
            last_success: None,
            keys: None,
            tickets_id: None,
            clock: ClockSync::Unknown,
            ..sample(false)
        }
        .render();
        assert!(!bare.contains("last_success") && !bare.contains("_info"));
        // A clock whose state could not be read is said so, not left out.
        assert!(
            bare.contains("\ntofurkey_clock_synchronized -1\n"),
            "{bare}"
        );
        let synced = Metrics {
            clock: ClockSync::Synchronized,
            ..sample(true)
        };
        assert!(
            synced
                .render()
                .contains("\ntofurkey_clock_synchronized 1\n")
        );
    }

    #[test]
    fn a_rollover_is_its_instant_and_the_next_keys_id() {
        let text = Metrics {
            rollover: Some(NextKeyInfo {
                id: "0123456789abcdef".into(),
                at: 1_800_000_000,
            }),
            ..sample(true)
        }
        .render();
        for line in [
            "tofurkey_rollover_timestamp_seconds 1800000000",
            "tofurkey_next_key_info{main_key_id=\"0123456789abcdef\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(text.matches("# TYPE ").count(), samples);
        // Absent without a rollover.
        let plain = sample(true).render();
        assert!(!plain.contains("rollover") && !plain.contains("next_key"));
    }

    #[test]
    fn last_success_is_read_back() {
        assert_eq!(last_success(&sample(true).render()), Some(999_000));
        assert_eq!(
            last_success("tofurkey_last_success_timestamp_seconds 12\n"),
            Some(12)
        );
        assert_eq!(
            last_success("tofurkey_last_success_timestamp_secondsX 12\n"),
            None
        );
        assert_eq!(
            last_success("# HELP tofurkey_last_success_timestamp_seconds x\n"),
            None
        );
        assert_eq!(last_success("garbage"), None);
    }
}
