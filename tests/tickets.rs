//! The ticket key outputs as files: their bytes (the documented derivation
//! in both layouts), their modes, and what bad directories and files do:
//! one `error:` line, exit 1, and nothing written anywhere. The real servers
//! are in tests/tickets/ (nginx, HAProxy) and the container suite.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Output};

/// Ticket key 11 of the test vector (`-T 1000000`), from Python's hashlib
/// (the snippet in docs/DESIGN.md, "TLS ticket keys"): name, AES, HMAC.
const NAME_11: &str = "2d1c9f5ae203c4b258f75c6e85a88b03";
const AES_11: &str = "1044e7bd0bfe084a14f527fafe9c5b79746994f9112b6a062f4d16647be32661";
const HMAC_11: &str = "725f9241b37e092e41c6648e0005034d3afcb059c82ce7530fc94b64cc7af386";
/// `base64.b64encode(name + aes + hmac)`: HAProxy's middle line.
const HAPROXY_11: &str = "LRyfWuIDxLJY91xuhaiLAxBE570L/ghKFPUn+v6cW3l0aZT5EStqBi9NFmR74yZhcl+SQbN+CS5BxmSOAAUDTTr8sFnILOdTD8lLZMx684Y=";
const INTERVAL: u64 = 86_400;

/// A run at `time` writing the TFO pair to `target` and the given ticket
/// options; `shell` prefixes it (a umask).
fn run_at(time: u64, key: &Path, target: &Path, tickets: &[&str], extra: &[&str]) -> Output {
    let t = time.to_string();
    let mut c = tofurkey();
    c.args(extra)
        .args([
            "-T",
            &t,
            "-k",
            key.to_str().unwrap(),
            "-P",
            target.to_str().unwrap(),
        ])
        .args(tickets);
    bounded(&mut c)
}

fn nginx_args(dir: &Path) -> Vec<String> {
    vec!["--nginx-tickets".into(), dir.to_str().unwrap().into()]
}

#[test]
fn both_layouts_hold_the_documented_keys_0600_whatever_the_umask() {
    let d = Dir::new("layouts");
    let (key, target) = (d.spec_key(), d.target());
    let shm = Shm::new("layouts");
    let haproxy = shm.path("haproxy.keys");
    let script = format!(
        "umask 000; exec {BIN} -T 1000000 -k {} -P {} --nginx-tickets {} --haproxy-tickets {}",
        key.display(),
        target.display(),
        shm.0.path().display(),
        haproxy.display()
    );
    let o = bounded(without_systemd_env(Command::new("sh")).args(["-c", &script]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for name in [
        "previous.key",
        "current.key",
        "next.key",
        "haproxy.keys",
        "changed",
    ] {
        let meta = fs::metadata(shm.path(name)).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o600, "{name}");
        assert!(meta.is_file(), "{name}");
    }
    // nginx: name | HMAC | AES; the current key encrypts.
    let current = fs::read(shm.path("current.key")).unwrap();
    assert_eq!(hex::encode(&current), format!("{NAME_11}{HMAC_11}{AES_11}"));
    for name in ["previous.key", "next.key"] {
        let other = fs::read(shm.path(name)).unwrap();
        assert_eq!(other.len(), 80);
        assert_ne!(other, current);
    }
    // HAProxy: previous, current, next, base64 of name | AES | HMAC.
    let text = fs::read_to_string(&haproxy).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1], HAPROXY_11);
    assert!(text.ends_with('\n') && lines.iter().all(|l| l.len() == 108));
    // One logical key, both layouts: nginx's previous is HAProxy's first.
    let previous = fs::read(shm.path("previous.key")).unwrap();
    let first = hex::decode(hex_of_base64(lines[0])).unwrap();
    assert_eq!(
        [&previous[..16], &previous[48..], &previous[16..48]].concat(),
        first
    );
    // The stamp is the run's time and the set's fingerprint, no key.
    let stamp = fs::read_to_string(shm.path("changed")).unwrap();
    assert_eq!(stamp, "1000000 18e865e338bc5e94\n");
}

/// Standard base64 decoded to hex (the test's own decoder, to read
/// HAProxy's lines independently of tofurkey's encoder).
fn hex_of_base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let (mut n, mut out) = (0, Vec::new());
    for c in text.bytes().filter(|&c| c != b'=') {
        bits = bits << 6 | ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    hex::encode(out)
}

#[test]
fn no_ticket_key_in_any_output_even_with_v() {
    let d = Dir::new("quiet");
    let (key, target) = (d.spec_key(), d.target());
    let shm = Shm::new("quiet");
    let haproxy = shm.path("haproxy.keys");
    let args = [
        "--nginx-tickets",
        shm.0.path().to_str().unwrap(),
        "--haproxy-tickets",
        haproxy.to_str().unwrap(),
    ];
    let o = run_at(1_000_000, &key, &target, &args, &["-V"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut secrets = Vec::new();
    for name in ["previous.key", "current.key", "next.key"] {
        let k = fs::read(shm.path(name)).unwrap();
        secrets.extend([k[16..48].to_vec(), k[48..].to_vec()]);
    }
    for line in fs::read_to_string(&haproxy).unwrap().lines() {
        secrets.push(line.as_bytes()[20..].to_vec());
    }
    let out = [o.stdout, o.stderr].concat();
    assert_no_secrets(&out, &secrets);
    let c = bounded(
        tofurkey()
            .args([
                "--check",
                "-k",
                key.to_str().unwrap(),
                "-P",
                target.to_str().unwrap(),
            ])
            .args(args),
    );
    assert_eq!(
        c.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&c.stdout)
    );
    assert_no_secrets([c.stdout, c.stderr].concat(), &secrets);
}

#[test]
fn check_tells_the_previous_interval_from_a_foreign_set() {
    let d = Dir::new("check");
    let key = d.spec_key();
    let shm = Shm::new("check");
    let args = nginx_args(shm.0.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = 1_000_000;
    assert_eq!(
        run_at(t, &key, &d.target(), &args, &[]).status.code(),
        Some(0)
    );
    let check = |at: u64| {
        // The TFO pair is written for `at`, so that the verdict is the tickets'.
        let target = d.target();
        assert_eq!(run_at(at, &key, &target, &[], &[]).status.code(), Some(0));
        let at = at.to_string();
        let o = bounded(
            tofurkey()
                .args(["--check", "-T", &at, "-k", key.to_str().unwrap()])
                .args(["-P", target.to_str().unwrap()])
                .args(&args),
        );
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, line) = check(t + 1);
    assert_eq!(code, Some(0), "{line}");
    assert!(line.ends_with(": OK\n"), "{line}");
    let (code, line) = check(t + INTERVAL);
    assert_eq!(code, Some(1), "{line}");
    assert!(
        line.starts_with("WARNING: ") && line.contains("previous interval's keys"),
        "{line}"
    );
    let (code, line) = check(t + 2 * INTERVAL);
    assert_eq!(code, Some(2), "{line}");
    assert!(
        line.starts_with("CRITICAL: ") && line.contains("not the keys for now"),
        "{line}"
    );
    fs::remove_file(shm.path("next.key")).unwrap();
    let (code, line) = check(t + 1);
    assert_eq!(code, Some(2), "{line}");
    assert!(line.contains("CRITICAL (missing"), "{line}");
}

/// Asserts a refused run: exit 1, one `error:` line with `want`, the TFO
/// target and every ticket directory unchanged, no temporary file left.
fn refused_nothing_written(o: &Output, want: &str, target: &Path, dirs: &[(&Path, Snapshot)]) {
    refused(o, 1, want, target);
    for (dir, before) in dirs {
        assert_eq!(&listing(dir), before, "{} changed", dir.display());
    }
}

type Snapshot = Vec<(String, Vec<u8>)>;

/// Every entry of `dir` (names and, for files, bytes), FIFOs and links too.
fn listing(dir: &Path) -> Snapshot {
    let mut all: Snapshot = fs::read_dir(dir)
        .map(|r| {
            r.map(|e| {
                let e = e.unwrap();
                let t = e.file_type().unwrap();
                let content = if t.is_file() {
                    fs::read(e.path()).unwrap()
                } else {
                    vec![]
                };
                (e.file_name().to_string_lossy().into_owned(), content)
            })
            .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

#[test]
fn bad_directories_and_files_write_nothing_anywhere() {
    let d = Dir::new("bad");
    let key = d.spec_key();
    let good = Shm::new("bad-good");
    // A directory on disk (the build's own temp dir, never tmpfs here).
    let disk = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    set_mode(disk.path(), 0o700);
    let open = Shm::new("bad-open");
    set_mode(open.0.path(), 0o777);
    let link = good.path("link");
    symlink(good.0.path(), &link).unwrap();
    let fifo_dir = Shm::new("bad-fifo");
    let fifo = fifo_dir.path("current.key");
    mkfifo(&fifo);
    let haproxy_link = good.path("haproxy.keys");
    symlink("/etc/hostname", &haproxy_link).unwrap();
    let missing = good.path("missing");
    let sub = good.path("sub");
    fs::create_dir(&sub).unwrap();
    set_mode(&sub, 0o700);
    // A good directory in a parent others can write (not sticky).
    let loose = Shm::new("bad-loose");
    set_mode(loose.0.path(), 0o777);
    let loose_child = loose.path("keys");
    fs::create_dir(&loose_child).unwrap();
    set_mode(&loose_child, 0o700);
    // Two levels down: whoever can write a grandparent can swap the parent
    // for a link after the run, and nginx would follow it.
    let loose_grandchild = loose_child.join("deep");
    fs::create_dir(&loose_grandchild).unwrap();
    set_mode(&loose_grandchild, 0o700);
    // Another user's directory, closed to everyone else: still not ours.
    let foreign = Shm::new("bad-foreign");
    give_to_nobody(foreign.0.path());
    // Sticky and open to all (as /dev/shm): a parent may be, the directory
    // itself never (anyone could add a file).
    let sticky = Shm::new("bad-sticky");
    set_mode(sticky.0.path(), 0o1777);

    let nginx = |dir: &Path| vec!["--nginx-tickets".to_string(), dir.display().to_string()];
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            nginx(&missing),
            "No such file or directory: make it on tmpfs",
        ),
        (
            nginx(disk.path()),
            "is not on tmpfs: ticket keys must not reach a disk: use a directory under /run",
        ),
        (
            nginx(open.0.path()),
            "mode 0777) can be changed by another user",
        ),
        (
            nginx(&link),
            "link is a symbolic link (to /dev/shm/tofurkey-test-bad-good-",
        ),
        (
            // A link on the way, not only at the end, is not followed.
            nginx(&link.join("sub")),
            "link is a symbolic link (to /dev/shm/tofurkey-test-bad-good-",
        ),
        (
            vec![
                "--haproxy-tickets".into(),
                link.join("haproxy.keys").display().to_string(),
            ],
            "not a directory: give the path without links: the real directory",
        ),
        (
            // `..` would write in a directory other than the one checked.
            nginx(&sub.join("..")),
            "sub/.. climbs up a directory ('..'): give the path without '..'",
        ),
        (
            nginx(&loose_grandchild),
            "mode 0777) can be changed by another user",
        ),
        (
            nginx(&loose_child),
            "mode 0777) can be changed by another user",
        ),
        (
            nginx(foreign.0.path()),
            "(owner uid 65534, mode 0700) can be changed by another user",
        ),
        (
            nginx(sticky.0.path()),
            "mode 1777) can be changed by another user",
        ),
        (
            nginx(fifo_dir.0.path()),
            "current.key is a FIFO, not a regular file: remove it",
        ),
        (
            vec![
                "--haproxy-tickets".into(),
                haproxy_link.display().to_string(),
            ],
            "haproxy.keys is a symbolic link, not a regular file",
        ),
        (
            // A good nginx directory with a bad HAProxy file: neither is written.
            [
                nginx(good.0.path()),
                vec!["--haproxy-tickets".into(), fifo.display().to_string()],
            ]
            .concat(),
            "is a FIFO, not a regular file",
        ),
        (
            // A good nginx directory, HAProxy's file in another, bad one:
            // only a directory named as nginx's is checked once for both.
            [
                nginx(good.0.path()),
                vec![
                    "--haproxy-tickets".into(),
                    open.path("haproxy.keys").display().to_string(),
                ],
            ]
            .concat(),
            "mode 0777) can be changed by another user",
        ),
    ];
    for (args, want) in cases {
        let target = d.target();
        let dirs: Vec<(&Path, Snapshot)> =
            [good.0.path(), disk.path(), open.0.path(), fifo_dir.0.path()]
                .into_iter()
                .map(|p| (p, listing(p)))
                .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run_at(1_000_000, &key, &target, &args, &[]);
        refused_nothing_written(&o, want, &target, &dirs);
    }
    assert!(
        fs::symlink_metadata(&haproxy_link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link in the file's place was replaced"
    );
}

#[test]
fn an_unwritable_directory_fails_its_output_and_leaves_it_empty() {
    let d = Dir::new("unwritable");
    let key = d.spec_key();
    give_to_nobody(&key);
    let target = d.target();
    give_to_nobody(&target);
    let shm = Shm::new("unwritable");
    give_to_nobody(shm.0.path());
    fs::set_permissions(shm.0.path(), fs::Permissions::from_mode(0o500)).unwrap();
    let mut c = d.tofurkey_as_nobody();
    c.args([
        "-T",
        "1000000",
        "-k",
        key.to_str().unwrap(),
        "-P",
        target.to_str().unwrap(),
    ])
    .args(["--nginx-tickets", shm.0.path().to_str().unwrap()]);
    let o = bounded(&mut c);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot create a temporary file for") && err.contains("Permission denied"),
        "{err}"
    );
    // The line says what was set all the same.
    assert!(err.ends_with("; set all the same: TFO keys\n"), "{err}");
    assert!(listing(shm.0.path()).is_empty(), "something was written");
    // The outputs are independent: the TFO key was set all the same.
    assert_ne!(bytes(&target), OLD_PAIR);
}

/// The stamp is nginx's reload trigger: written when a key file changed,
/// and whenever it does not name the set (a stamp write that failed is
/// retried by the next run), never else.
#[test]
fn the_stamp_follows_the_set() {
    let d = Dir::new("stamp");
    let (key, target) = (d.spec_key(), d.target());
    let shm = Shm::new("stamp");
    let args = nginx_args(shm.0.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stamp = shm.path("changed");
    assert_eq!(
        run_at(1_000_000, &key, &target, &args, &[]).status.code(),
        Some(0)
    );
    let inode = |name: &str| fs::metadata(shm.path(name)).unwrap().ino();
    let keys_before = ["previous.key", "current.key", "next.key"].map(inode);
    // Same set: the stamp is left as it is.
    assert_eq!(
        run_at(1_000_001, &key, &target, &args, &[]).status.code(),
        Some(0)
    );
    assert_eq!(
        fs::read_to_string(&stamp).unwrap(),
        "1000000 18e865e338bc5e94\n"
    );
    // A stamp that does not name the set (or none) is written again; the
    // key files are not.
    for damage in [Some("garbage\n"), None] {
        match damage {
            Some(text) => fs::write(&stamp, text).unwrap(),
            None => fs::remove_file(&stamp).unwrap(),
        }
        assert_eq!(
            run_at(1_000_002, &key, &target, &args, &[]).status.code(),
            Some(0)
        );
        assert_eq!(
            fs::read_to_string(&stamp).unwrap(),
            "1000002 18e865e338bc5e94\n"
        );
        assert_eq!(
            ["previous.key", "current.key", "next.key"].map(inode),
            keys_before
        );
    }
}

/// A key file whose content is right but that another user may read (its
/// mode loosened, or another user's) is CRITICAL to `--check` and replaced
/// by the next run, as the running user's, 0600: live ticket keys are read
/// by no one else.
#[test]
fn a_key_file_others_may_read_is_critical_and_replaced() {
    let d = Dir::new("exposed");
    let key = d.spec_key();
    let shm = Shm::new("exposed");
    let haproxy = shm.path("haproxy.keys");
    let args = [
        nginx_args(shm.0.path()),
        vec!["--haproxy-tickets".into(), haproxy.display().to_string()],
    ]
    .concat();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (t, target) = (1_000_000, d.target());
    assert_eq!(run_at(t, &key, &target, &args, &[]).status.code(), Some(0));
    let check = || {
        let o = bounded(
            tofurkey()
                .args(["--check", "-T", "1000000", "-k", key.to_str().unwrap()])
                .args(["-P", target.to_str().unwrap()])
                .args(&args),
        );
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    assert_eq!(check().0, Some(0));
    let exposed = "CRITICAL (a key file another user owns or may read: others may read live \
                   ticket keys; the next run replaces it)";
    for (name, loosen) in [
        ("current.key", Loosen::Mode(0o644)),
        ("haproxy.keys", Loosen::Mode(0o640)),
        ("next.key", Loosen::Owner),
    ] {
        let file = shm.path(name);
        let content = fs::read(&file).unwrap();
        match loosen {
            Loosen::Mode(mode) => set_mode(&file, mode),
            Loosen::Owner => give_to_nobody(&file),
        }
        let (code, line) = check();
        assert_eq!(code, Some(2), "{name}: {line}");
        assert!(line.starts_with("CRITICAL: "), "{name}: {line}");
        assert!(line.contains(exposed), "{name}: {line}");
        let o = run_at(t + 1, &key, &target, &args, &[]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let meta = fs::metadata(&file).unwrap();
        assert_eq!(
            (meta.mode() & 0o7777, meta.uid()),
            (0o600, 0),
            "{name} was left as it was"
        );
        assert_eq!(fs::read(&file).unwrap(), content, "{name}");
        assert_eq!(check().0, Some(0), "{name}");
    }
}

/// How a key file is made readable to another user.
enum Loosen {
    /// Its mode set to this.
    Mode(u32),
    /// Given to nobody.
    Owner,
}
