//! A rollover to the next main key (`--next-key`, `--next-key-at T`): a
//! host with (current, next, T) writes what a host with the current key
//! alone writes before T − I, what a host with the next key alone writes
//! from T + I, and in between each key of an interval from the key the
//! rule names (the next one for counters ≥ T / I); `--check` says OK
//! throughout; the command line's refusals.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

const I: u64 = 3600;
/// T: a multiple of I (T / I = 500000).
const T: u64 = 1_800_000_000;

/// A temp dir on tmpfs (/dev/shm), mode 0700, removed on drop: ticket keys
/// What one host wrote: its TFO pair, nginx's three files, HAProxy's file.
#[derive(Debug, PartialEq, Eq)]
struct Written {
    pair: Vec<u8>,
    nginx: [Vec<u8>; 3],
    haproxy: Vec<u8>,
}

/// Runs at `time` with `keys` (`-k` and maybe `--next-key ...`), into fresh
/// outputs; returns what it wrote.
fn host(dir: &Dir, time: u64, keys: &[&str], extra: &[&str]) -> Written {
    let shm = Shm::new("rollover");
    let target = dir.target();
    let nginx = shm.path("nginx");
    fs::create_dir(&nginx).unwrap();
    set_mode(&nginx, 0o700);
    let haproxy = shm.path("haproxy.keys");
    let o = run_at(time, keys, &target, &nginx, &haproxy, extra);
    assert!(o.status.success(), "run at {time}: {}", stderr(&o));
    Written {
        pair: bytes(&target),
        nginx: ["previous.key", "current.key", "next.key"].map(|f| bytes(&nginx.join(f))),
        haproxy: bytes(&haproxy),
    }
}

fn run_at(
    time: u64,
    keys: &[&str],
    target: &Path,
    nginx: &Path,
    haproxy: &Path,
    extra: &[&str],
) -> Output {
    let t = time.to_string();
    let i = I.to_string();
    let mut c = tofurkey();
    c.args(extra)
        .args(["-T", &t, "-i", &i, "-P", target.to_str().unwrap()])
        .args(keys)
        .args(["--nginx-tickets", nginx.to_str().unwrap()])
        .args(["--haproxy-tickets", haproxy.to_str().unwrap()]);
    bounded(&mut c)
}

struct Keys {
    dir: Dir,
    current: String,
    next: String,
}

impl Keys {
    fn new() -> Keys {
        let dir = Dir::new("rollover");
        let current = dir.spec_key().to_str().unwrap().to_string();
        let next = dir.file("next.key", &[7; 32]).to_str().unwrap().to_string();
        Keys { dir, current, next }
    }

    fn both(&self, time: u64) -> Written {
        let at = T.to_string();
        let args = [
            "-k",
            &self.current,
            "--next-key",
            &self.next,
            "--next-key-at",
            &at,
        ];
        host(&self.dir, time, &args, &[])
    }

    fn current_only(&self, time: u64) -> Written {
        host(&self.dir, time, &["-k", &self.current], &[])
    }

    fn next_only(&self, time: u64) -> Written {
        host(&self.dir, time, &["-k", &self.next], &[])
    }
}

#[test]
fn before_t_minus_i_the_current_key_alone() {
    let k = Keys::new();
    for time in [T - 3 * I, T - 2 * I, T - 2 * I + I / 2, T - I - 1] {
        assert_eq!(
            k.both(time),
            k.current_only(time),
            "at T{}",
            time as i64 - T as i64
        );
    }
}

#[test]
fn from_t_plus_i_the_next_key_alone() {
    let k = Keys::new();
    for time in [T + I, T + I + I / 2, T + 2 * I, T + 3 * I] {
        assert_eq!(k.both(time), k.next_only(time), "at T+{}", time - T);
    }
}

#[test]
fn in_the_window_each_key_from_the_key_the_rule_names() {
    let k = Keys::new();
    // [T − I, T): tickets n−1, n from the current key, n+1 = T / I from the next.
    for time in [T - I, T - I / 2, T - 1] {
        let (both, cur, next) = (k.both(time), k.current_only(time), k.next_only(time));
        assert_eq!(
            both.nginx[..2],
            cur.nginx[..2],
            "at T{}",
            time as i64 - T as i64
        );
        assert_eq!(both.nginx[2], next.nginx[2]);
        assert_ne!(both.haproxy, cur.haproxy);
        assert_ne!(both.haproxy, next.haproxy);
    }
    // [T, T + I): n−1 from the current key, n and n+1 from the next.
    for time in [T, T + I / 2, T + I - 1] {
        let (both, cur, next) = (k.both(time), k.current_only(time), k.next_only(time));
        assert_eq!(both.nginx[0], cur.nginx[0], "at T+{}", time - T);
        assert_eq!(both.nginx[1..], next.nginx[1..]);
        assert_ne!(both.haproxy, cur.haproxy);
        assert_ne!(both.haproxy, next.haproxy);
    }
    // The TFO pair, primary,backup (each 35 characters): the backup is the
    // previous key in the first half of an interval, the next one in the
    // second. Just before T: primary T/I − 1 (current), backup T/I (next).
    let (both, cur, next) = (k.both(T - 1), k.current_only(T - 1), k.next_only(T - 1));
    assert_eq!(both.pair[..35], cur.pair[..35]);
    assert_eq!(both.pair[36..71], next.pair[36..71]);
    // At T: primary T/I (next), backup T/I − 1 (current).
    let (both, cur, next) = (k.both(T), k.current_only(T), k.next_only(T));
    assert_eq!(both.pair[..35], next.pair[..35]);
    assert_eq!(both.pair[36..71], cur.pair[36..71]);
}

#[test]
fn check_is_ok_across_the_window_with_the_rollover() {
    let k = Keys::new();
    let at = T.to_string();
    let i = I.to_string();
    let mut time = T - 2 * I;
    while time <= T + 2 * I {
        let shm = Shm::new("rollover");
        let target = k.dir.target();
        let nginx = shm.path("nginx");
        fs::create_dir(&nginx).unwrap();
        set_mode(&nginx, 0o700);
        let haproxy = shm.path("haproxy.keys");
        let keys = [
            "-k",
            &k.current,
            "--next-key",
            &k.next,
            "--next-key-at",
            &at,
        ];
        let o = run_at(time, &keys, &target, &nginx, &haproxy, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let t = time.to_string();
        // --check at this time, of this target, with `key_args`.
        let check = |key_args: &[&str]| {
            let mut c = tofurkey();
            c.args([
                "--check",
                "-T",
                &t,
                "-i",
                &i,
                "-P",
                target.to_str().unwrap(),
            ])
            .args(key_args)
            .args(["--nginx-tickets", nginx.to_str().unwrap()]);
            c
        };
        let mut c = check(&keys);
        c.args(["--haproxy-tickets", haproxy.to_str().unwrap()]);
        let o = bounded(&mut c);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(0),
            "at T{}: {out}",
            time as i64 - T as i64
        );
        assert!(out.starts_with("OK"), "{out}");
        // A host without the rollover judges the same outputs otherwise
        // inside the window (the keys from the next key are foreign to it).
        if (T - I..T + I).contains(&time) {
            let mut c = check(&["-k", &k.current]);
            assert_ne!(bounded(&mut c).status.code(), Some(0), "at {time}");
        }
        time += I / 4;
    }
}

fn usage_error(args: &[&str], want: &str) {
    let dir = Dir::new("rollover-usage");
    let target = dir.target();
    let mut c = tofurkey();
    c.args(["-i", "3600", "-P", target.to_str().unwrap()])
        .args(args);
    let o = bounded(&mut c);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(want), "{args:?}: {err}");
    assert_eq!(bytes(&target), OLD_PAIR, "a refused run wrote");
}

#[test]
fn usage_errors() {
    usage_error(
        &["--next-key", "/k", "--next-key-at", "1800000001"],
        "1800000001 is not a multiple of the interval (3600 s): take 1800000000 or 1800003600",
    );
    usage_error(&["--next-key", "/k"], "--next-key needs --next-key-at");
    // T alone names the credential: next_key_at_without_a_next_key_...
    usage_error(
        &["--next-key-at", "1800000001"],
        "not a multiple of the interval",
    );
}

#[test]
fn a_next_key_equal_to_the_current_one_is_refused() {
    let k = Keys::new();
    let same = k.dir.file("same.key", &hex::decode(SPEC_MAIN).unwrap());
    let target = k.dir.target();
    let at = T.to_string();
    let mut c = tofurkey();
    c.args([
        "-i",
        "3600",
        "-P",
        target.to_str().unwrap(),
        "-k",
        &k.current,
    ])
    .args(["--next-key", same.to_str().unwrap(), "--next-key-at", &at]);
    let o = bounded(&mut c);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("is the current main key"), "{err}");
    assert_eq!(bytes(&target), OLD_PAIR, "a refused run wrote");
}

/// The `main_key_id` label of `metric` in a metrics file.
fn main_key_id(text: &str, metric: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with(metric))?;
    let from = line.find("main_key_id=\"")? + "main_key_id=\"".len();
    Some(line[from..from + 16].to_string())
}

#[test]
fn metrics_name_the_instant_and_the_next_keys_id() {
    let k = Keys::new();
    let at = T.to_string();
    let prom = k.dir.path("t.prom");
    let metrics = |keys: &[&str]| {
        let target = k.dir.target();
        let mut c = tofurkey();
        c.args([
            "-T",
            "1799990000",
            "-i",
            "3600",
            "-P",
            target.to_str().unwrap(),
        ])
        .args(keys)
        .args(["--metrics", prom.to_str().unwrap()]);
        let o = bounded(&mut c);
        assert!(o.status.success(), "{}", stderr(&o));
        fs::read_to_string(&prom).unwrap()
    };
    let next_alone = metrics(&["-k", &k.next]);
    let current_alone = metrics(&["-k", &k.current]);
    let text = metrics(&[
        "-k",
        &k.current,
        "--next-key",
        &k.next,
        "--next-key-at",
        &at,
    ]);
    assert!(
        text.lines()
            .any(|l| l == "tofurkey_rollover_timestamp_seconds 1800000000"),
        "{text}"
    );
    let next_id = main_key_id(&next_alone, "tofurkey_keys_info").unwrap();
    assert_eq!(main_key_id(&text, "tofurkey_next_key_info"), Some(next_id));
    // The main key id stays the current key's.
    assert_eq!(
        main_key_id(&text, "tofurkey_keys_info"),
        main_key_id(&current_alone, "tofurkey_keys_info")
    );
    // Absent without a rollover.
    assert!(!current_alone.contains("rollover") && !current_alone.contains("next_key"));
}

/// A run's stderr at `time` with the rollover configured (`-v`).
fn rollover_run(k: &Keys, time: u64) -> String {
    let target = k.dir.target();
    let (t, at) = (time.to_string(), T.to_string());
    let mut c = tofurkey();
    c.args(["-v", "-T", &t, "-i", "3600", "-P", target.to_str().unwrap()])
        .args([
            "-k",
            &k.current,
            "--next-key",
            &k.next,
            "--next-key-at",
            &at,
        ]);
    let o = bounded(&mut c);
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
}

#[test]
fn the_entry_names_the_next_key_and_warns_once_the_rollover_is_done() {
    let k = Keys::new();
    let before = rollover_run(&k, T - 1);
    assert!(before.contains(", next main key id "), "{before}");
    assert!(before.contains(" from 1800000000 ("), "{before}");
    assert!(!before.contains("is done"), "{before}");
    assert!(!rollover_run(&k, T + I - 1).contains("is done"));
    let after = rollover_run(&k, T + I);
    let warning: Vec<_> = after.lines().filter(|l| l.contains("is done")).collect();
    assert_eq!(warning.len(), 1, "{after}");
    assert!(warning[0].starts_with("warning: the rollover to main key id "));
    assert!(warning[0].contains("tofurkey.key.next becomes tofurkey.key"));
    assert!(warning[0].contains("remove NEXT_KEY_AT (--next-key-at)"));
}

#[test]
fn a_next_key_of_text_is_warned_of_as_the_main_key_is() {
    let k = Keys::new();
    let text = k.dir.file(
        "next.txt",
        b"9f86d081884c7d659a2feaa0c55ad0159f86d081884c7d659a2feaa0c55ad015\n",
    );
    let target = k.dir.target();
    let at = T.to_string();
    let mut c = tofurkey();
    c.args([
        "-T",
        "1799990000",
        "-i",
        "3600",
        "-P",
        target.to_str().unwrap(),
    ])
    .args(["-k", &k.current, "--next-key", text.to_str().unwrap()])
    .args(["--next-key-at", &at]);
    let o = bounded(&mut c);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("next.txt is text"), "{err}");
}

/// A run at `time` given the current key with `-k`, `--next-key-at T` and
/// `args`, as the service with `credentials` for `$CREDENTIALS_DIRECTORY`.
fn credential_run(k: &Keys, time: u64, credentials: &Path, args: &[&str]) -> (Output, PathBuf) {
    let target = k.dir.target();
    let t = time.to_string();
    let mut c = tofurkey();
    c.env("CREDENTIALS_DIRECTORY", credentials)
        .args(["-v", "-T", &t, "-i", "3600", "-P", target.to_str().unwrap()])
        .args(["-k", &k.current])
        .args(args);
    (bounded(&mut c), target)
}

#[test]
fn without_next_key_the_credential_is_the_next_key() {
    let k = Keys::new();
    let creds = k.dir.path("credentials");
    fs::create_dir(&creds).unwrap();
    set_mode(&creds, 0o700);
    fs::copy(&k.next, creds.join("tofurkey.key.next")).unwrap();
    let at = T.to_string();
    // At T the primary key is the next key's: the pair says which key won.
    let (o, target) = credential_run(&k, T, &creds, &["--next-key-at", &at]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(", next main key id "), "{}", stderr(&o));
    let mut c = tofurkey();
    let by_path = k.dir.file("by-path", OLD_PAIR);
    c.args([
        "-T",
        &T.to_string(),
        "-i",
        "3600",
        "-P",
        by_path.to_str().unwrap(),
    ])
    .args([
        "-k",
        &k.current,
        "--next-key",
        &k.next,
        "--next-key-at",
        &at,
    ]);
    assert!(bounded(&mut c).status.success());
    let from_credential = bytes(&target);
    assert_eq!(from_credential, bytes(&by_path));
    assert_ne!(from_credential, OLD_PAIR);

    // Loaded, but no T: used by nothing, and said so.
    let (o, target) = credential_run(&k, T, &creds, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: the credential tofurkey.key.next is loaded but not used"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("next main key id"));
    assert_ne!(bytes(&target), from_credential);
}

#[test]
fn next_key_at_without_a_next_key_changes_nothing() {
    let k = Keys::new();
    let empty = k.dir.path("credentials");
    fs::create_dir(&empty).unwrap();
    set_mode(&empty, 0o700);
    let (o, target) = credential_run(&k, T, &empty, &["--next-key-at", &T.to_string()]);
    let error = the_error_line(&o);
    assert!(
        error.starts_with(
            "error: no next main key: --next-key-at (NEXT_KEY_AT) is set, but neither \
             --next-key (NEXT_KEY) nor the credential tofurkey.key.next: put the next key in \
             /etc/credstore/tofurkey.key.next"
        ),
        "{error}"
    );
    assert_eq!(bytes(&target), OLD_PAIR);
}

/// A `$CREDENTIALS_DIRECTORY` that is not a directory says so: whether the
/// next key is there is unknown, which is not "no next key".
#[test]
fn an_unusable_credentials_directory_is_not_a_missing_next_key() {
    let k = Keys::new();
    let not_a_dir = k.dir.file("credentials", b"");
    let (o, target) = credential_run(&k, T, &not_a_dir, &["--next-key-at", &T.to_string()]);
    let error = the_error_line(&o);
    assert!(
        error.starts_with(&format!(
            "error: CREDENTIALS_DIRECTORY '{}' is not a usable directory: ",
            not_a_dir.display()
        )),
        "{error}"
    );
    assert_eq!(bytes(&target), OLD_PAIR);
}
