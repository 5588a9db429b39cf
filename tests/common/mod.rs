//! The one test harness: temp dirs the test owns, the built binary in a
//! form that cannot reach the host, the 1.3.4 test vector (its `t/test.key`
//! and expected output), one secret scanner and one snapshot helper.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The main key of the 1.3.4 test vector (its `t/test.key`, in hex).
pub const SPEC_MAIN: &str = "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b";
/// The vector's expected pair, for interval 86400 at time 1000000.
pub const SPEC_PAIR: &str =
    "c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577";
/// What a target file holds before a test runs: a distinct old pair.
pub const OLD_PAIR: &[u8] =
    b"0badc0de-0badc0de-0badc0de-0badc0de,feedface-feedface-feedface-feedface\0";
/// `setpriv` arguments that drop to uid/gid 65534: root reads and writes
/// anything, so the permission cases need an unprivileged user.
pub const NOBODY: [&str; 4] = ["--reuid=65534", "--regid=65534", "--clear-groups", "--"];
/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_tofurkey");

/// A temp dir (mode 0755, so that nobody may enter) removed on drop, also
/// when the test fails. The third field is a sibling directory for the
/// binary that runs as nobody (see [`Dir::nobody_bin`]), kept out of the
/// first so that listings of it stay the test's own.
pub struct Dir(pub PathBuf, tempfile::TempDir, tempfile::TempDir);

impl Dir {
    pub fn new(name: &str) -> Dir {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("tofurkey-test-{name}-"))
            .tempdir()
            .expect("create temp dir");
        set_mode(tmp.path(), 0o755);
        let bin = tempfile::Builder::new()
            .prefix(&format!("tofurkey-test-{name}-bin-"))
            .tempdir()
            .expect("create temp dir");
        set_mode(bin.path(), 0o755);
        Dir(tmp.path().to_path_buf(), tmp, bin)
    }

    /// The binary where uid 65534 can run it: the checkout may live under
    /// a directory only root can enter (a `mktemp -d` is 0700), so [`BIN`]
    /// is linked, or copied across file systems, into a 0755 directory of
    /// this test's own.
    pub fn nobody_bin(&self) -> PathBuf {
        let bin = self.2.path().join("tofurkey");
        if !bin.exists() && fs::hard_link(BIN, &bin).is_err() {
            fs::copy(BIN, &bin).expect("copy the binary for nobody");
        }
        bin
    }

    /// The binary as uid/gid 65534 (root reads and writes anything, so the
    /// permission cases need an unprivileged user), with [`SAFE_DEFAULTS`].
    pub fn tofurkey_as_nobody(&self) -> Command {
        assert!(
            is_root(),
            "switching to nobody needs root: run the suite as root"
        );
        let mut c = without_systemd_env(Command::new("setpriv"));
        c.args(NOBODY).arg(self.nobody_bin()).args(SAFE_DEFAULTS);
        c
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `bytes` to `name`, mode 0600 as a key file should be, and
    /// returns the path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, bytes).expect("write fixture");
        set_mode(&p, 0o600);
        p
    }

    /// The SPEC main key as a file.
    pub fn spec_key(&self) -> PathBuf {
        self.file("main.key", &hex::decode(SPEC_MAIN).unwrap())
    }

    /// A target holding [`OLD_PAIR`].
    pub fn target(&self) -> PathBuf {
        self.file("target", OLD_PAIR)
    }
}

/// Arguments every run starts with: a fixed time, and /dev/null as the
/// target, which tofurkey refuses (a device). A test passes its own `-T`
/// and `-P` after them (the last one wins, as with getopt); one that forgets
/// `-P` fails loudly and can never write the host's key.
pub const SAFE_DEFAULTS: [&str; 4] = ["-T", "1000000", "-P", "/dev/null"];

/// The built binary with [`SAFE_DEFAULTS`] and a clean environment: no
/// credential dir, no journal, no notify socket inherited from whoever runs
/// the tests.
pub fn tofurkey() -> Command {
    let mut c = without_systemd_env(Command::new(BIN));
    c.args(SAFE_DEFAULTS);
    c
}

/// Removes the variables a systemd-started test runner might pass on.
pub fn without_systemd_env(mut cmd: Command) -> Command {
    for var in ["CREDENTIALS_DIRECTORY", "JOURNAL_STREAM", "NOTIFY_SOCKET"] {
        cmd.env_remove(var);
    }
    cmd
}

/// `sh -c SCRIPT` in a private mount and network namespace with a fresh
/// tmpfs on /run, so that what a run does in /run never reaches the host's,
/// and a run without `-P` could only reach the namespace's own key.
pub fn with_private_run(script: &str) -> Command {
    assert!(
        is_root(),
        "a private /run needs root: run the suite as root"
    );
    let mut c = Command::new("unshare");
    c.args(["--mount", "--net", "--propagation", "private", "sh", "-c"])
        .arg(format!("mount -t tmpfs tmpfs /run && {script}"));
    without_systemd_env(c)
}

/// Runs the binary with `args`.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Output {
    tofurkey().args(args).output().expect("spawn tofurkey")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The one error line of a failed run (exit 1), whatever else it said.
pub fn the_error_line(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let errors: Vec<_> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    errors[0].to_string()
}

/// The pair in the `-V` line of a run.
pub fn keys_line(o: &Output) -> String {
    let err = stderr(o);
    let line = err
        .lines()
        .find(|l| l.starts_with("info: Generated ASCII TFO keys for procfs write: ["))
        .unwrap_or_else(|| panic!("no -V line in: {err}"));
    line.rsplit(' ').next().unwrap().to_string()
}

/// True when running as root (the kernel and permission tests need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The form in which `secret` shows in `hay`, if it does: any 8 raw bytes
/// of it; any 4 of its bytes in hex of either case (a procfs group); or all
/// of it in hex once separators (dashes, commas, spaces) are dropped.
pub fn leak(hay: &[u8], secret: &[u8]) -> Option<&'static str> {
    if secret.windows(8).any(|w| contains(hay, w)) {
        return Some("raw bytes");
    }
    let lower = hay.to_ascii_lowercase();
    if secret
        .windows(4)
        .any(|w| contains(&lower, hex::encode(w).as_bytes()))
    {
        return Some("hex");
    }
    let digits: Vec<u8> = lower.into_iter().filter(u8::is_ascii_hexdigit).collect();
    contains(&digits, hex::encode(secret).as_bytes()).then_some("hex with separators")
}

/// The TFO keys of a procfs pair, in text order and as the kernel's
/// little-endian words: what a leak of the pair could look like.
pub fn tfo_keys(pair: &str) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for key in pair.split(',') {
        let bytes = hex::decode(key.replace('-', "")).unwrap();
        let swapped = bytes.chunks(4).flat_map(|w| w.iter().rev()).copied();
        keys.push(swapped.collect());
        keys.push(bytes);
    }
    keys
}

/// The secrets of the test vector: its main key and the TFO keys of
/// `pairs` (procfs texts).
pub fn secrets(pairs: &[&str]) -> Vec<Vec<u8>> {
    let mut all = vec![hex::decode(SPEC_MAIN).unwrap()];
    all.extend(pairs.iter().flat_map(|p| tfo_keys(p)));
    all
}

/// Asserts that `hay` holds none of `secrets` in any form [`leak`] knows.
pub fn assert_no_secrets(hay: impl AsRef<[u8]>, secrets: &[Vec<u8>]) {
    for (i, s) in secrets.iter().enumerate() {
        if let Some(form) = leak(hay.as_ref(), s) {
            panic!("secret {i} found as {form}");
        }
    }
}

/// Regular files under `dir` (recursively) and their bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            files.extend(snapshot(&e.path()));
        } else if t.is_file() {
            files.insert(e.path(), fs::read(e.path()).unwrap());
        }
    }
    files
}

/// Sets a file's permission bits.
pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod fixture");
}

/// Gives a file to uid/gid 65534, for runs as nobody.
pub fn give_to_nobody(path: &Path) {
    std::os::unix::fs::chown(path, Some(65534), Some(65534)).expect("chown fixture");
}

/// Asserts exit `code`, one `error:` line containing `want` (a usage
/// error's ending with the pointer to `--help`, not the usage text), and
/// the target unchanged.
pub fn refused(o: &Output, code: i32, want: &str, target: &Path) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error: ") && first.contains(want),
        "want '{want}' in: {err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    if code == 2 {
        assert!(
            first.ends_with("; see 'tofurkey --help'"),
            "a usage error points at --help: {err}"
        );
    }
    assert_eq!(bytes(target), OLD_PAIR, "target changed");
}

/// Makes a FIFO at `path` (nobody writes to it).
pub fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Reads a file, for "unchanged" comparisons.
pub fn bytes(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_default()
}

/// Runs `cmd`, killing it after 10 s: a hang fails the test, not the suite.
pub fn bounded(cmd: &mut Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    bounded_wait(child)
}

/// Waits for `child`, killing it after 10 s: a hang fails the test.
pub fn bounded_wait(child: std::process::Child) -> Output {
    wait_at_most(child, Duration::from_secs(10))
}

/// Waits for `child`, killing it after `limit`: a run that outlives its
/// own deadlines fails the test instead of hanging it.
pub fn wait_at_most(mut child: std::process::Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("still running after {limit:?}: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.wait_with_output().expect("output")
}

/// A temp dir on tmpfs (/dev/shm), mode 0700, removed on drop.
pub struct Shm(pub tempfile::TempDir);

impl Shm {
    pub fn new(name: &str) -> Shm {
        let d = tempfile::Builder::new()
            .prefix(&format!("tofurkey-test-{name}-"))
            .tempdir_in("/dev/shm")
            .expect("a temp dir in /dev/shm (tmpfs) is needed for the ticket tests");
        set_mode(d.path(), 0o700);
        Shm(d)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

/// The value of the sample `name` (with its labels, if any) in `text`.
pub fn sample<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
}
