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
        err.lines().any(|l| l.starts_with("error: metrics file")
            && l.contains("/missing: No such file or directory")
            && l.ends_with("the keys are set")),
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

/// Whoever owns a directory on the metrics path cannot redirect root's
/// write through a link (the directory is reached without following one),
/// nor have a failed run republish a value read through a link planted
/// where the file goes.
#[test]
fn links_on_the_metrics_path_are_never_followed() {
    let d = Dir::new("metrics-links");
    let (key, target) = (d.spec_key(), d.target());
    // A root-only directory, with a file another user must not have root
    // replace or read.
    let root_only = d.path("root-only");
    fs::create_dir(&root_only).unwrap();
    set_mode(&root_only, 0o700);
    let precious = root_only.join("t.prom");
    fs::write(&precious, "tofurkey_last_success_timestamp_seconds 4242\n").unwrap();
    // Another user's directory, in which they point "textfile" at it.
    let theirs = d.path("theirs");
    fs::create_dir(&theirs).unwrap();
    give_to_nobody(&theirs);
    let link = theirs.join("textfile");
    symlink(&root_only, &link).unwrap();
    let o = metrics_run(tofurkey(), "1000000", &key, &target, &link.join("t.prom"));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.lines().any(|l| l
            == format!(
                "error: metrics file {}: {} is a symbolic link (to {}), not a directory: give \
                 the path without links; the keys are set",
                link.join("t.prom").display(),
                link.display(),
                root_only.display()
            )),
        "{err}"
    );
    assert_ne!(bytes(&target), OLD_PAIR, "the keys were not set");
    assert_eq!(
        fs::read(&precious).unwrap(),
        b"tofurkey_last_success_timestamp_seconds 4242\n"
    );
    assert_eq!(fs::read_dir(&root_only).unwrap().count(), 1);

    // The file's own name a link to that file: a failed run neither reads
    // it nor writes through it.
    let planted = theirs.join("t.prom");
    symlink(&precious, &planted).unwrap();
    let short = d.file("short.key", &[7; 5]);
    let o = metrics_run(tofurkey(), "1000100", &short, &target, &planted);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = fs::read_to_string(&planted).unwrap();
    assert!(fs::symlink_metadata(&planted).unwrap().is_file());
    assert_eq!(sample(&text, "tofurkey_last_run_success"), Some("0"));
    assert_eq!(
        sample(&text, "tofurkey_last_success_timestamp_seconds"),
        None,
        "{text}"
    );
    assert_eq!(
        fs::read(&precious).unwrap(),
        b"tofurkey_last_success_timestamp_seconds 4242\n"
    );
}
