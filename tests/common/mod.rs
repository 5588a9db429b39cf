//! Shared fixtures for the integration tests: a temp dir the test owns, the
//! built binary, and the SPEC's test vector.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The SPEC's main key.
pub const SPEC_MAIN: &str = "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b";
/// The SPEC's pair for interval 86400 at time 1000000.
pub const SPEC_PAIR: &str =
    "c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577";
/// What a target file holds before a test runs: a distinct old pair.
pub const OLD_PAIR: &[u8] =
    b"0badc0de-0badc0de-0badc0de-0badc0de,feedface-feedface-feedface-feedface\0";

/// A temp dir removed on drop (also when the test fails).
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tofurkey-test-{name}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        Dir(path)
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

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A command for the built binary with a clean environment: no credential
/// dir, no journal, no notify socket inherited from whoever runs the tests.
pub fn tofurkey() -> Command {
    without_systemd_env(Command::new(env!("CARGO_BIN_EXE_tofurkey")))
}

/// Removes the variables a systemd-started test runner might pass on.
pub fn without_systemd_env(mut cmd: Command) -> Command {
    for var in ["CREDENTIALS_DIRECTORY", "JOURNAL_STREAM", "NOTIFY_SOCKET"] {
        cmd.env_remove(var);
    }
    cmd
}

/// The binary as uid/gid 65534: root reads and writes anything, so the
/// permission cases need an unprivileged user.
pub fn tofurkey_as_nobody() -> Command {
    assert!(
        is_root(),
        "switching to nobody needs root: run the suite as root"
    );
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_tofurkey"));
    without_systemd_env(c)
}

/// `sh -c SCRIPT` in a private mount namespace with a fresh tmpfs on /run,
/// so that what a run does in /run never reaches the host's.
pub fn with_private_run(script: &str) -> Command {
    assert!(
        is_root(),
        "a private /run needs root: run the suite as root"
    );
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c"])
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

/// Asserts that `text` holds none of the given secrets in any usual form:
/// hex in either case, with or without the procfs dashes and comma.
pub fn assert_no_secrets(text: &str, secrets_hex: &[&str]) {
    let lower = text.to_lowercase();
    let squeezed: String = lower.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    for s in secrets_hex {
        let plain: String = s
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_hexdigit())
            .collect();
        // Any 8-hex-digit group of a key is already a leak.
        for chunk in plain.as_bytes().chunks(8) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            assert!(
                !lower.contains(chunk),
                "secret fragment {chunk}.. found in output"
            );
        }
        assert!(!squeezed.contains(&plain), "secret found in output");
    }
}

/// Sets a file's permission bits.
pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod fixture");
}

/// Gives a file to uid/gid 65534, for runs as nobody.
pub fn give_to_nobody(path: &Path) {
    std::os::unix::fs::chown(path, Some(65534), Some(65534)).expect("chown fixture");
}

/// Reads a file, for "unchanged" comparisons.
pub fn bytes(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_default()
}

/// Runs `cmd`, killing it after 10 s: a hang fails the test, not the suite.
pub fn bounded(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hung: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.wait_with_output().expect("output")
}
