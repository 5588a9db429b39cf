//! `--metrics PATH`: the Prometheus text file a run leaves, replaced whole,
//! mode 0644, with no secret; after a failed run, the last success carried
//! over; a missing or unwritable directory fails the run (exit 1) with the
//! keys set all the same; a clock whose state cannot be read (adjtimex
//! refused, as in a container) said to be unknown.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

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

/// Makes `cmd` run with `adjtimex` and `clock_adjtime` refused (EPERM), as
/// a container's or a unit's system call filter refuses them: a seccomp
/// filter of the child's own, inherited by the binary (no privilege needed
/// with no_new_privs; nothing outside the child is touched).
fn without_adjtimex(cmd: &mut Command) {
    let jeq = |nr: libc::c_long, jt: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf: 0,
        k: nr as u32,
    };
    let ret = |k: u32| libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k,
    };
    // The system call's number (seccomp_data.nr, at offset 0); the native
    // architecture's numbers, as the binary makes its calls.
    let filter = [
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
        jeq(libc::SYS_adjtimex, 2),
        jeq(libc::SYS_clock_adjtime, 1),
        ret(libc::SECCOMP_RET_ALLOW),
        ret(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
    ];
    // SAFETY: between fork and exec the closure makes two prctl(2) calls
    // (async-signal-safe) on the filter, made before the fork, and
    // allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &prog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Where adjtimex is refused, the clock's state is unknown, and every
/// report says so in a form an alert catches: the metric is -1 (never
/// left out), the warning says "unknown" and why, STATUS too; the keys are
/// set all the same. A dry run's warning does not say it set them.
#[test]
fn a_clock_whose_state_cannot_be_read_is_unknown() {
    let d = Dir::new("metrics-clock");
    let (key, target) = (d.spec_key(), d.target());
    let prom = d.path("tofurkey.prom");
    let notify = d.path("notify.sock");
    let sock = UnixDatagram::bind(&notify).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut c = tofurkey();
    c.env("NOTIFY_SOCKET", &notify);
    without_adjtimex(&mut c);
    let o = metrics_run(c, "1000000", &key, &target, &prom);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_ne!(bytes(&target), OLD_PAIR, "the keys were not set");
    let text = fs::read_to_string(&prom).unwrap();
    assert_eq!(
        sample(&text, "tofurkey_clock_synchronized"),
        Some("-1"),
        "{text}"
    );
    assert_eq!(sample(&text, "tofurkey_last_run_success"), Some("1"));
    let warned: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("warning: whether the system clock is synchronized"))
        .collect();
    assert_eq!(warned.len(), 1, "{err}");
    assert!(
        warned[0].starts_with(
            "warning: whether the system clock is synchronized is unknown (adjtimex: \
             Operation not permitted): its keys may not be the fleet's; keys set anyway: "
        ),
        "{err}"
    );
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notify datagram");
    let status = String::from_utf8_lossy(&buf[..n]);
    assert!(
        status.trim_end().ends_with(", clock state unknown"),
        "{status}"
    );

    // A failed run's metrics say it too.
    let short = d.file("short.key", &[7; 5]);
    let mut c = tofurkey();
    without_adjtimex(&mut c);
    let o = metrics_run(c, "1000100", &short, &target, &prom);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = fs::read_to_string(&prom).unwrap();
    assert_eq!(sample(&text, "tofurkey_last_run_success"), Some("0"));
    assert_eq!(
        sample(&text, "tofurkey_clock_synchronized"),
        Some("-1"),
        "{text}"
    );

    // A dry run sets nothing, and its warning does not say it did.
    let mut c = tofurkey();
    c.args(["-n", "-k", key.to_str().unwrap()]);
    without_adjtimex(&mut c);
    let o = bounded(&mut c);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let warned: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("warning: whether the system clock is synchronized"))
        .collect();
    assert_eq!(warned.len(), 1, "{err}");
    assert!(warned[0].contains("(a dry run: nothing set)"), "{err}");
    assert!(!warned[0].contains("keys set anyway"), "{err}");
}
