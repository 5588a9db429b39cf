//! `--metrics PATH`: the Prometheus text file a run leaves, replaced whole,
//! mode 0644, with no secret; after a failed run, the last success carried
//! over; a missing or unwritable directory fails the run (exit 1) with the
//! keys set all the same.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;
use std::process::{Command, Output};

fn metrics_run(mut c: Command, time: &str, key: &Path, target: &Path, metrics: &Path) -> Output {
    c.args([
        "-T",
        time,
        "-k",
        key.to_str().unwrap(),
        "-P",
        target.to_str().unwrap(),
    ])
    .args(["--metrics", metrics.to_str().unwrap()]);
    bounded(&mut c)
}

/// The value of the sample `name` (with its labels, if any) in `text`.
fn sample<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
}

#[test]
fn a_run_leaves_its_metrics_and_no_secret() {
    let d = Dir::new("metrics");
    let (key, target) = (d.spec_key(), d.target());
    let prom = d.path("tofurkey.prom");
    // A link where the file goes is replaced, never followed.
    let elsewhere = d.file("elsewhere", b"untouched");
    symlink(&elsewhere, &prom).unwrap();
    let script_umask = without_systemd_env(Command::new("sh"));
    let mut c = script_umask;
    c.args(["-c", "umask 077; exec \"$0\" \"$@\"", BIN]);
    let o = metrics_run(c, "1000000", &key, &target, &prom);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read(&elsewhere).unwrap(), b"untouched");
    let meta = fs::symlink_metadata(&prom).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(
        meta.mode() & 0o777,
        0o644,
        "readable by node_exporter whatever the umask"
    );
    let text = fs::read_to_string(&prom).unwrap();
    assert_eq!(
        sample(&text, "tofurkey_last_run_timestamp_seconds"),
        Some("1000000")
    );
    assert_eq!(
        sample(&text, "tofurkey_last_success_timestamp_seconds"),
        Some("1000000")
    );
    assert_eq!(sample(&text, "tofurkey_last_run_success"), Some("1"));
    assert_eq!(
        sample(&text, "tofurkey_next_rotation_timestamp_seconds"),
        Some("1036800")
    );
    assert_eq!(sample(&text, "tofurkey_interval_seconds"), Some("86400"));
    // The documented fingerprints of the test vector.
    assert!(text.contains(
        "\ntofurkey_keys_info{keys_id=\"3c6bf71f91f4ae4f\",main_key_id=\"7ad202034d831e12\",interval=\"86400\"} 1\n"
    ));
    assert!(matches!(
        sample(&text, "tofurkey_clock_synchronized"),
        Some("0" | "1")
    ));
    assert_no_secrets(&text, &secrets(&[SPEC_PAIR]));
    let leftovers: Vec<_> = fs::read_dir(&d.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A failed run (a short key): success 0, the last success kept, its
    // own time; the keys in place untouched.
    let short = d.file("short.key", &[7; 5]);
    let before = bytes(&target);
    let o = metrics_run(tofurkey(), "1000100", &short, &target, &prom);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(bytes(&target), before);
    let text = fs::read_to_string(&prom).unwrap();
    assert_eq!(
        sample(&text, "tofurkey_last_run_timestamp_seconds"),
        Some("1000100")
    );
    assert_eq!(
        sample(&text, "tofurkey_last_success_timestamp_seconds"),
        Some("1000000")
    );
    assert_eq!(sample(&text, "tofurkey_last_run_success"), Some("0"));
    assert!(!text.contains("tofurkey_keys_info"), "{text}");
}

#[test]
fn a_metrics_directory_that_is_missing_or_unwritable_fails_with_the_keys_set() {
    let d = Dir::new("metrics-bad");
    let key = d.spec_key();
    let target = d.target();
    let o = metrics_run(
        tofurkey(),
        "1000000",
        &key,
        &target,
        &d.path("missing/t.prom"),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.lines().any(
            |l| l.starts_with("error: cannot open the directory of metrics file")
                && l.contains("No such file or directory")
                && l.ends_with("the keys are set")
        ),
        "{err}"
    );
    assert_ne!(bytes(&target), OLD_PAIR, "the keys were not set");

    // As nobody, in a directory only root may write.
    give_to_nobody(&key);
    let target = d.target();
    give_to_nobody(&target);
    let locked = d.path("locked");
    fs::create_dir(&locked).unwrap();
    set_mode(&locked, 0o755);
    let o = metrics_run(
        d.tofurkey_as_nobody(),
        "1000000",
        &key,
        &target,
        &locked.join("t.prom"),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("Permission denied: run as root"), "{err}");
    assert_ne!(bytes(&target), OLD_PAIR, "the keys were not set");
    assert_eq!(fs::read_dir(&locked).unwrap().count(), 0);
}
