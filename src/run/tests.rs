//! The run's policy, tested on files in temp dirs of the test's own.
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::*;
use crate::check::UNKNOWN_EXIT;
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
    assert!(metrics.contains(
        "\ntofurkey_keys_info{keys_id=\"3c6bf71f91f4ae4f\",main_key_id=\"7ad202034d831e12\",\
         interval=\"86400\"} 1\n"
    ));
    // No ticket output asked for: no ticket set derived, none published.
    let success = report.result.unwrap();
    assert_eq!(success.tickets_id, None);
    assert!(!metrics.contains("tofurkey_tickets_info"), "{metrics}");
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
        clock: ClockSync::Unknown,
        rollover: None,
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

/// The clock's state as the run takes it: adjtimex refused is "unknown",
/// with a warning of the clock's event and its own field (-1), as loud as
/// an unsynchronized clock (0); a synchronized one warns of nothing; a
/// dry run's warning does not say it set the keys.
#[test]
fn a_clock_not_known_to_be_synchronized_warns_and_a_dry_run_sets_nothing() {
    use crate::report::{CLOCK_SYNCHRONIZED, Event};
    let refused = || Err(std::io::Error::from_raw_os_error(libc::EPERM));
    assert_eq!(
        clock_state(Ok(ClockSync::Synchronized), false),
        (ClockSync::Synchronized, None)
    );
    for dry_run in [false, true] {
        for (read, want, flag) in [
            (
                Ok(ClockSync::Unsynchronized),
                ClockSync::Unsynchronized,
                "0",
            ),
            (refused(), ClockSync::Unknown, "-1"),
        ] {
            let (sync, warning) = clock_state(read, dry_run);
            assert_eq!(sync, want);
            let w = warning.expect("a warning");
            assert_eq!(w.event, Some(Event::ClockUnsynchronized));
            assert_eq!(w.fields, vec![(CLOCK_SYNCHRONIZED, flag.into())]);
            assert_eq!(
                w.message.contains("keys set anyway"),
                !dry_run,
                "{}",
                w.message
            );
            assert_eq!(w.message.contains("nothing set"), dry_run, "{}", w.message);
        }
    }
    let (_, w) = clock_state(refused(), false);
    assert!(
        w.unwrap()
            .message
            .contains("(adjtimex: Operation not permitted)")
    );
    // What the metrics of such a run say.
    let metrics = Metrics {
        run: 1_000_000,
        success: true,
        last_success: Some(1_000_000),
        interval: 86_400,
        next_rotation: 1_036_800,
        keys: None,
        tickets_id: None,
        clock: clock_state(refused(), false).0,
        rollover: None,
    };
    assert!(
        metrics
            .render()
            .contains("\ntofurkey_clock_synchronized -1\n")
    );
}
