//! Trust: what another local user, or a hostile environment, could do to a
//! run, and what the run does about it. Autokeys in a directory anyone may
//! write, key files anyone could have written, credentials that are not
//! there, piped keys, output that cannot be written, and arguments that try
//! to add log lines. Each refusal: one line, its exit code, the target as
//! it was.

mod common;

use common::*;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, symlink};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A run of `cmd`, bounded, with the vector's time and `target`, which holds
/// [`OLD_PAIR`] when it starts.
fn attempt(mut cmd: Command, target: &Path, args: &[&str]) -> Output {
    fs::write(target, OLD_PAIR).unwrap();
    cmd.args(args).args(["-P", target.to_str().unwrap()]);
    bounded(&mut cmd)
}

/// Exit 1, exactly `want` as the one line, the target unchanged.
fn refused(o: &Output, want: &str, target: &Path) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    assert_eq!(stderr(o), format!("{want}\n"));
    assert_eq!(bytes(target), OLD_PAIR, "target changed");
}

/// A directory anyone may write, as /tmp is (sticky: only owners remove).
fn public_dir(name: &str) -> Dir {
    let d = Dir::new(name);
    set_mode(&d.0, 0o1777);
    d
}

/// An autokey someone else put where ours would be is never used (nor
/// replaced): not another user's, not root's with group/other bits, not a
/// link to a good key, not a FIFO (no hang), not 32 zero bytes.
#[test]
fn autokeys_planted_in_a_public_directory_are_refused() {
    let d = public_dir("planted");
    let target = d.target();
    let auto = d.path("auto.key");
    let a = auto.to_str().unwrap();
    let plant = |make: &dyn Fn()| {
        let _ = fs::remove_file(&auto);
        make();
        let before = fs::symlink_metadata(&auto).unwrap();
        let o = attempt(tofurkey(), &target, &["-a", a]);
        let after = fs::symlink_metadata(&auto).unwrap();
        assert_eq!((before.ino(), before.len()), (after.ino(), after.len()));
        o
    };

    let o = plant(&|| {
        d.file("auto.key", &[0x11; 32]);
        give_to_nobody(&auto);
    });
    refused(
        &o,
        &format!(
            "error: autokey {a} has owner uid 65534 and mode 0600, but must belong to the \
             running user (uid 0) with mode 0600: someone else may know it: remove it (the next \
             run makes a new one), or use -a PATH in a directory only you can write"
        ),
        &target,
    );
    let o = plant(&|| {
        d.file("auto.key", &[0x11; 32]);
        set_mode(&auto, 0o644);
    });
    refused(
        &o,
        &format!(
            "error: autokey {a} has owner uid 0 and mode 0644, but must belong to the \
             running user (uid 0) with mode 0600: someone else may know it: remove it (the next \
             run makes a new one), or use -a PATH in a directory only you can write"
        ),
        &target,
    );

    let good = d.file("good.key", &[0x11; 32]);
    let o = plant(&|| symlink(&good, &auto).unwrap());
    refused(
        &o,
        &format!(
            "error: autokey {a} is a symbolic link, not a regular file: remove it, and the next run makes a new one"
        ),
        &target,
    );
    let o = plant(&|| mkfifo(&auto));
    refused(
        &o,
        &format!(
            "error: autokey {a} is a FIFO, not a regular file: remove it, and the next run makes a new one"
        ),
        &target,
    );
    let o = plant(&|| {
        d.file("auto.key", &[0; 32]);
    });
    refused(
        &o,
        &format!(
            "error: autokey {a} is 32 zero bytes, a placeholder, not a secret: remove it, and \
             the next run makes a new one"
        ),
        &target,
    );
}

/// The old temporary name, pre-created by another user and kept open (or a
/// FIFO there): the new key never goes through a name, so neither receives
/// it or hangs the run; the autokey is ours, 0600.
#[test]
fn a_precreated_temporary_file_receives_nothing() {
    let d = public_dir("pretmp");
    let target = d.target();
    let auto = d.path("auto.key");
    let tmp = d.file(".auto.key.tmp", b"");
    give_to_nobody(&tmp);
    set_mode(&tmp, 0o666);
    let watcher = File::open(&tmp).unwrap();
    let fifo = d.path(".auto.key.fifo");
    mkfifo(&fifo);
    let o = attempt(tofurkey(), &target, &["-V", "-a", auto.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        watcher.metadata().unwrap().len(),
        0,
        "the key went through the name"
    );
    let m = fs::metadata(&auto).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777, m.len()), (0, 0o600, 32));
    let key = fs::read(&auto).unwrap();
    let via_k = run(&["-V", "-n", "-k", auto.to_str().unwrap()]);
    assert_eq!(keys_line(&o), keys_line(&via_k));
    assert_no_secrets(fs::read(&tmp).unwrap(), &[key]);
    // And no name of its own was left behind.
    let mut names: Vec<_> = fs::read_dir(&d.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".auto.key.fifo", ".auto.key.tmp", "auto.key", "target"]
    );
}

/// Whatever the umask, a new autokey is 0600, so that its owner (not only
/// root, who reads anything) can use it on the next run.
#[test]
fn a_new_autokey_is_0600_under_any_umask() {
    let d = public_dir("umask");
    let auto = d.path("auto.key");
    let script = format!(
        "umask 777; exec {} -n -a {} -T 1000000",
        d.nobody_bin().display(),
        auto.display()
    );
    let as_nobody = |script: &str| {
        let mut c = without_systemd_env(Command::new("setpriv"));
        c.args(NOBODY).args(["sh", "-c", script]);
        bounded(&mut c)
    };
    let o = as_nobody(&script);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = fs::metadata(&auto).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (65534, 0o600));
    let o = as_nobody(&script);
    assert!(
        o.status.success(),
        "the owner reads its own key: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("using the main key in autokey"),
        "{}",
        stderr(&o)
    );
}

/// A key file (or credential) that another user could have written is
/// refused: owned by neither root nor the running user, or writable by
/// group or others. Readable by others works, with a warning. A link to a
/// good key is fine: the file it names is checked.
#[test]
fn key_files_others_could_have_written_are_refused() {
    let d = Dir::new("untrusted");
    let target = d.target();
    let key = d.spec_key();
    let k = key.to_str().unwrap();

    give_to_nobody(&key);
    let o = attempt(tofurkey(), &target, &["-k", k]);
    refused(
        &o,
        &format!(
            "error: main key file {k} is owned by uid 65534, neither root nor the running user \
             (uid 0), who could have written it: make root its owner ('chown root: FILE')"
        ),
        &target,
    );
    // The running user's own key is trusted (here: nobody's).
    set_mode(&d.0, 0o755);
    let nobody_target = d.file("nobody-target", OLD_PAIR);
    give_to_nobody(&nobody_target);
    let o = attempt(d.tofurkey_as_nobody(), &nobody_target, &["-k", k]);
    assert!(o.status.success(), "{}", stderr(&o));

    std::os::unix::fs::chown(&key, Some(0), Some(0)).unwrap();
    for mode in [0o666, 0o620, 0o602] {
        set_mode(&key, mode);
        let o = attempt(tofurkey(), &target, &["-k", k]);
        refused(
            &o,
            &format!(
                "error: main key file {k} has mode {mode:04o}: group or others could have \
                 written it: 'chmod go-w FILE', and check its contents"
            ),
            &target,
        );
    }
    let link = d.path("link.key");
    symlink(&key, &link).unwrap();
    // Readable by others: used, with a warning whose advice names the file
    // itself, also when it is reached through a link.
    set_mode(&key, 0o644);
    let real = fs::canonicalize(&key).unwrap();
    for path in [&key, &link] {
        let o = attempt(tofurkey(), &target, &["-k", path.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            stderr(&o).lines().next().unwrap(),
            format!(
                "warning: main key file {} has mode 0644: group or others can read the main key \
                 and compute every key; 'chmod go= {}'",
                path.display(),
                real.display()
            )
        );
    }
    set_mode(&key, 0o600);
    let o = attempt(tofurkey(), &target, &["-V", "-k", link.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(keys_line(&o), SPEC_PAIR);

    // The same rules for the credential.
    let creds = d.path("creds");
    fs::create_dir(&creds).unwrap();
    let cred = d.file("creds/tofurkey.key", &hex::decode(SPEC_MAIN).unwrap());
    give_to_nobody(&cred);
    let mut c = tofurkey();
    c.env("CREDENTIALS_DIRECTORY", &creds);
    let o = attempt(c, &target, &[]);
    refused(
        &o,
        &format!(
            "error: credential {} is owned by uid 65534, neither root nor the running user \
             (uid 0), who could have written it: make root its owner ('chown root: FILE')",
            cred.display()
        ),
        &target,
    );
}

/// The namespace's TFO key file (its own network namespace's, in
/// [`in_private_namespaces`]).
const TFO_KEY: &str = "/proc/sys/net/ipv4/tcp_fastopen_key";

/// What a run inside private namespaces did: its exit code, stdout and
/// stderr, what its ticket directory holds, and the namespace's TFO key
/// after it.
#[derive(Debug)]
struct NsRun {
    code: i32,
    stdout: String,
    stderr: String,
    tickets: String,
    tfo: String,
}

/// The namespace's TFO key before each run: [`OLD_PAIR`] as procfs shows it.
fn old_tfo() -> String {
    let text = String::from_utf8_lossy(OLD_PAIR);
    format!("{}\n", text.trim_end_matches('\0'))
}

/// Runs tofurkey at the vector's time with `args` (shell words) in a
/// private mount namespace (a tmpfs on /run, holding an empty ticket
/// directory /run/tickets, root's, 0700) and a network namespace of its
/// own whose TFO key holds [`OLD_PAIR`]: nothing reaches the host's /run
/// or its keys. `env` is added to the run's environment.
fn in_private_namespaces(args: &str, env: &[(&str, &Path)]) -> NsRun {
    let script = format!(
        "printf %s '{old}' >{TFO_KEY} && mkdir -m 0700 /run/tickets && \
         {{ {BIN} -T 1000000 -P {TFO_KEY} {args} >/run/out 2>/run/err; echo $?; }} && \
         ls -A /run/tickets | tr '\\n' ' ' && echo && cat {TFO_KEY} && cat /run/err >&2 && \
         cat /run/out",
        old = old_tfo().trim_end()
    );
    let mut c = with_private_run(&script);
    for (name, value) in env {
        c.env(name, value);
    }
    let o = bounded(&mut c);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = out.splitn(4, '\n');
    let mut next = || lines.next().unwrap_or_default().to_string();
    let code = next()
        .parse()
        .unwrap_or_else(|_| panic!("{out}: {}", stderr(&o)));
    let (tickets, tfo, stdout) = (next(), next(), next());
    NsRun {
        code,
        stdout,
        stderr: stderr(&o),
        tickets: tickets.trim_end().to_string(),
        tfo: format!("{tfo}\n"),
    }
}

/// Refused: exit `code`, exactly `want` as its one line (on stderr, or on
/// stdout for `--check`), no ticket file made, the TFO key as it was.
fn refused_in_namespaces(r: &NsRun, code: i32, want: &str) {
    let said = if code == 1 { &r.stderr } else { &r.stdout };
    assert_eq!(
        (r.code, said.as_str()),
        (code, format!("{want}\n").as_str()),
        "{r:?}"
    );
    assert_eq!(r.tickets, "", "ticket files written: {r:?}");
    assert_eq!(r.tfo, old_tfo(), "the TFO key changed: {r:?}");
}

/// A main key that group or others can read lets them compute the ticket
/// keys and decrypt recorded TLS sessions: with a ticket output it is
/// refused, before anything is written (exit 1, one line naming the file,
/// its mode and `chmod go=` on the file itself, not a link to it), and
/// `--check` says CRITICAL, as the run fails. Without a ticket output it is
/// used, with a warning, as 1.3.4 used it; at 0600 it works with tickets.
/// A credential counts only others' bits: systemd shows its ACL entry for
/// the unit's user as group bits (0440).
#[test]
fn a_key_others_can_read_is_refused_for_ticket_keys() {
    let d = Dir::new("readable");
    let key = d.spec_key();
    let link = d.path("link.key");
    symlink(&key, &link).unwrap();
    let (k, l) = (key.to_str().unwrap(), link.to_str().unwrap());
    let exposed = |name: &str, mode: u32, real: &str| {
        format!(
            "{name} has mode {mode:04o}: group or others can read the main key, and with it \
             decrypt the TLS sessions its ticket keys protect: 'chmod go= {real}'"
        )
    };
    let tickets = "--nginx-tickets /run/tickets";
    for mode in [0o640, 0o604] {
        set_mode(&key, mode);
        let file = |path: &str| format!("main key file {path}");
        let r = in_private_namespaces(&format!("-k {k} {tickets}"), &[]);
        refused_in_namespaces(&r, 1, &format!("error: {}", exposed(&file(k), mode, k)));
        // Through a link (root's): the advice names the file itself.
        let r = in_private_namespaces(&format!("-k {l} {tickets}"), &[]);
        refused_in_namespaces(&r, 1, &format!("error: {}", exposed(&file(l), mode, k)));
        let r = in_private_namespaces(&format!("-k {k} --haproxy-tickets /run/tickets/h"), &[]);
        refused_in_namespaces(&r, 1, &format!("error: {}", exposed(&file(k), mode, k)));
        // Standard input redirected from the file: named by the kernel.
        let r = in_private_namespaces(&format!("-k - {tickets} <{k}"), &[]);
        refused_in_namespaces(
            &r,
            1,
            &format!("error: {}", exposed("standard input", mode, k)),
        );
        // --check mirrors the run: CRITICAL, the same words.
        let r = in_private_namespaces(&format!("--check -k {k} {tickets}"), &[]);
        refused_in_namespaces(&r, 2, &format!("CRITICAL: {}", exposed(&file(k), mode, k)));

        // Without ticket outputs: used, with the warning.
        let r = in_private_namespaces(&format!("-k {l}"), &[]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(
            r.stderr.lines().next().unwrap_or_default(),
            format!(
                "warning: main key file {l} has mode {mode:04o}: group or others can read the \
                 main key and compute every key; 'chmod go= {k}'"
            )
        );
        assert_eq!(r.tfo, format!("{SPEC_PAIR}\n"));
    }
    // Nothing to say about the key (the entry of the run, and a clock
    // warning on a host whose clock is not synchronized, are all it says).
    let quiet = |r: &NsRun| {
        assert_eq!(r.code, 0, "{r:?}");
        let about_the_key = |l: &str| {
            ["error", "warning: main key", "warning: credential"]
                .iter()
                .any(|p| l.starts_with(p))
        };
        assert!(!r.stderr.lines().any(about_the_key), "{r:?}");
    };
    set_mode(&key, 0o600);
    let r = in_private_namespaces(&format!("-k {l} {tickets}"), &[]);
    quiet(&r);
    assert_eq!(r.tickets, "changed current.key next.key previous.key");
    assert_eq!(r.tfo, format!("{SPEC_PAIR}\n"));

    // The credential, as systemd makes it (0400, or 0440 with an ACL entry
    // for the unit's user): used with tickets. Others' bit: refused.
    let creds = d.path("creds");
    fs::create_dir(&creds).unwrap();
    let cred = d.file("creds/tofurkey.key", &hex::decode(SPEC_MAIN).unwrap());
    let env = [("CREDENTIALS_DIRECTORY", creds.as_path())];
    for mode in [0o400, 0o440] {
        set_mode(&cred, mode);
        let r = in_private_namespaces(tickets, &env);
        quiet(&r);
        assert_eq!(r.tickets, "changed current.key next.key previous.key");
        assert_eq!(r.tfo, format!("{SPEC_PAIR}\n"));
    }
    set_mode(&cred, 0o444);
    let c = cred.to_str().unwrap();
    let r = in_private_namespaces(tickets, &env);
    refused_in_namespaces(
        &r,
        1,
        &format!("error: {}", exposed(&format!("credential {c}"), 0o444, c)),
    );
}

/// A key path through a link that another user owns (not root, not the
/// running user) is refused, whatever the run: that user could point it
/// at another file, one they can read or whose bytes they know. Links of
/// root's or the running user's are followed as before.
#[test]
fn a_key_reached_through_another_users_link_is_refused() {
    let d = Dir::new("foreign-link");
    let target = d.target();
    let key = d.spec_key();
    // Nobody's directory, holding nobody's links: to the key, and to the
    // test's directory.
    let theirs = d.path("theirs");
    fs::create_dir(&theirs).unwrap();
    give_to_nobody(&theirs);
    let to_key = theirs.join("main.key");
    let to_dir = theirs.join("keys");
    symlink(&key, &to_key).unwrap();
    symlink(&d.0, &to_dir).unwrap();
    for link in [&to_key, &to_dir] {
        std::os::unix::fs::lchown(link, Some(65534), Some(65534)).unwrap();
    }
    // The final link, a link on the way, and one reached through a link of
    // root's.
    let root_link = d.path("via-root.key");
    symlink(&to_key, &root_link).unwrap();
    let cases = [
        (to_key.clone(), &to_key),
        (to_dir.join("main.key"), &to_dir),
        (root_link, &to_key),
    ];
    for (path, link) in cases {
        for extra in [&[][..], &["-n"], &["--check"]] {
            let p = path.to_str().unwrap();
            let mut args = vec!["-k", p];
            args.extend(extra);
            let o = attempt(tofurkey(), &target, &args);
            let why = format!(
                "main key file {p} is reached through the link {}, owned by uid 65534, neither \
                 root nor the running user (uid 0), who could point it at another file: name \
                 the key file by its own path, or by links only root or you own",
                link.display()
            );
            if extra == ["--check"] {
                assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
                assert_eq!(
                    String::from_utf8_lossy(&o.stdout),
                    format!("UNKNOWN: {why}\n")
                );
                assert_eq!(bytes(&target), OLD_PAIR);
            } else {
                refused(&o, &format!("error: {why}"), &target);
            }
        }
    }
    // A link of root's to the key: followed.
    let ok = d.path("ok.key");
    symlink(&key, &ok).unwrap();
    let o = attempt(tofurkey(), &target, &["-V", "-k", ok.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(keys_line(&o), SPEC_PAIR);
}

/// `$CREDENTIALS_DIRECTORY` set but not a usable directory (a file, missing,
/// unsearchable) is an error, never a silent fall-back to a host-local
/// autokey; so is a credential that is there in a broken form (a directory,
/// a dangling link). Run with a private /run, so a fall-back, were there
/// one, would make its autokey there and not on the host.
#[test]
fn unusable_credentials_never_fall_back_to_the_autokey() {
    let d = Dir::new("creds-unusable");
    set_mode(&d.0, 0o755);
    let target = d.target();
    set_mode(&target, 0o666);
    let file = d.file("not-a-dir", b"");
    let locked = d.path("locked");
    fs::create_dir(&locked).unwrap();
    d.file("locked/tofurkey.key", &[0x11; 32]);
    set_mode(&locked, 0o700);
    let (as_dir, dangling) = (d.path("as-dir"), d.path("dangling"));
    fs::create_dir_all(as_dir.join("tofurkey.key")).unwrap();
    fs::create_dir(&dangling).unwrap();
    symlink(d.path("nothing"), dangling.join("tofurkey.key")).unwrap();

    let nobody_bin = d.nobody_bin();
    let t = target.display();
    let cases: [(&Path, bool, String); 5] = [
        (
            &file,
            false,
            format!(
                "error: CREDENTIALS_DIRECTORY '{}' is not a usable directory: Not a directory",
                file.display()
            ),
        ),
        (
            &d.path("missing"),
            false,
            format!(
                "error: CREDENTIALS_DIRECTORY '{}' is not a usable directory: No such file or directory",
                d.path("missing").display()
            ),
        ),
        (
            &locked,
            true,
            format!(
                "error: CREDENTIALS_DIRECTORY '{}' is not a usable directory: Permission denied",
                locked.display()
            ),
        ),
        (
            &as_dir,
            false,
            format!(
                "error: credential {}/tofurkey.key is a directory",
                as_dir.display()
            ),
        ),
        (
            &dangling,
            false,
            format!(
                "error: cannot read credential {}/tofurkey.key: No such file or directory",
                dangling.display()
            ),
        ),
    ];
    for (dir, as_nobody, want) in cases {
        let run = format!("-T 1000000 -P {t}; echo \"exit $?\"; ls -A /run");
        let script = match as_nobody {
            true => format!(
                "setpriv {} {} {run}",
                NOBODY.join(" "),
                nobody_bin.display()
            ),
            false => format!("{BIN} {run}"),
        };
        let o = with_private_run(&script)
            .env("CREDENTIALS_DIRECTORY", dir)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(
            err.starts_with(&want) && err.lines().count() == 1,
            "want {want}: {err}"
        );
        // Exit 1, and no autokey made in the (private) /run.
        assert_eq!(String::from_utf8_lossy(&o.stdout), "exit 1\n", "{want}");
        assert_eq!(bytes(&target), OLD_PAIR);
    }
}

/// A key piped in works (`-k -`, `-k /dev/stdin`), as does standard input
/// redirected from a file; a pipe that ends early, a device, or a writer
/// that stalls are refused, the last within its bounded wait.
#[test]
fn a_key_piped_in() {
    let d = Dir::new("stdin");
    let key = d.spec_key();
    let target = d.target();
    let main = hex::decode(SPEC_MAIN).unwrap();
    let piped = |name: &str, input: &[u8]| {
        let mut child = tofurkey()
            .args(["-V", "-n", "-k", name])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        bounded_wait(child)
    };
    for name in ["-", "/dev/stdin"] {
        let o = piped(name, &main);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(keys_line(&o), SPEC_PAIR, "{name}");
    }
    let o = piped("-", &main[..20]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("\nerror: standard input holds 20 bytes, needs at least 32"),
        "{}",
        stderr(&o)
    );
    let o = attempt(
        {
            let mut c = tofurkey();
            c.stdin(File::open(&key).unwrap());
            c
        },
        &target,
        &["-V", "-k", "-"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(keys_line(&o), SPEC_PAIR);
    let o = attempt(
        {
            let mut c = tofurkey();
            c.stdin(Stdio::null());
            c
        },
        &d.target(),
        &["-k", "-"],
    );
    refused(
        &o,
        "error: standard input is a device, not a regular file or a pipe: pipe the key in \
         ('tofurkey -k - < FILE')",
        &target,
    );
    // Read non-blocking, with the shared pipe's flags put back after.
    let (reader, mut writer) = std::io::pipe().unwrap();
    let mut c = tofurkey();
    c.args(["-V", "-n", "-k", "-"])
        .stdin(reader.try_clone().unwrap())
        .stderr(Stdio::piped());
    writer.write_all(&main).unwrap();
    drop(writer);
    let o = bounded(&mut c);
    assert_eq!(keys_line(&o), SPEC_PAIR);
    // SAFETY: F_GETFL on a pipe fd this test owns.
    let flags = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&reader), libc::F_GETFL) };
    assert_eq!(
        flags & libc::O_NONBLOCK,
        0,
        "O_NONBLOCK left on the shared pipe"
    );
    // A writer that sends the whole key and stays: 32 bytes are enough,
    // the run does not wait for the end of the pipe.
    let mut child = tofurkey()
        .args(["-V", "-n", "-k", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&main).unwrap();
    let start = Instant::now();
    let o = bounded_wait(child);
    // Waiting for the pipe's end would take the 5 s deadline; 4 s leaves a
    // loaded machine room to start and reap a process.
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "waited for the pipe's end"
    );
    assert_eq!(keys_line(&o), SPEC_PAIR);
    drop(stdin);
    // A writer that sends half a key and then stalls.
    let mut child = tofurkey()
        .args(["-k", "-", "-P", target.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&main[..16]).unwrap();
    let start = Instant::now();
    let o = bounded_wait(child);
    let waited = start.elapsed();
    drop(stdin);
    refused(
        &o,
        "error: standard input gave 16 of 32 bytes in 5 s: pipe the whole key in \
         ('tofurkey -k - < FILE')",
        &target,
    );
    // The 5 s deadline, and 3 s for a loaded machine to start and reap a
    // process; the 10 s of bounded_wait would be a hang.
    assert!(waited < Duration::from_secs(8), "{waited:?}");
}

/// Output that cannot be written never crashes a run: stdout on a full
/// device fails `--version` and `--print-timer` with exit 1 and a line; a
/// run whose stderr is full, or a closed pipe, still sets the keys, exit 0.
#[test]
fn output_that_cannot_be_written() {
    let d = Dir::new("output");
    for args in [&["--version"][..], &["--print-timer"], &["--help"]] {
        let o = tofurkey()
            .args(args)
            .stdout(File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {o:?}");
        assert_eq!(
            stderr(&o),
            "error: cannot write to standard output: No space left on device\n"
        );
    }
    let (key, target) = (d.spec_key(), d.target());
    let run_with_stderr = |stderr: Stdio| {
        let mut c = tofurkey();
        c.args(["-v", "-k", key.to_str().unwrap()])
            .args(["-P", target.to_str().unwrap()])
            .stderr(stderr);
        fs::write(&target, OLD_PAIR).unwrap();
        let status = c.status().unwrap();
        assert_eq!(bytes(&target), format!("{SPEC_PAIR}\0").as_bytes());
        status
    };
    let status = run_with_stderr(File::create("/dev/full").unwrap().into());
    assert_eq!(status.code(), Some(0), "{status}");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = run_with_stderr(writer.into());
    assert_eq!(
        (status.code(), status.signal()),
        (Some(0), None),
        "{status}"
    );
}

/// A run started with stderr closed: without the guard at start, the first
/// file opened (the target) would become fd 2 and receive the log lines.
#[test]
fn closed_standard_fds_never_receive_log_lines() {
    let d = Dir::new("closed-fds");
    let (key, target) = (d.spec_key(), d.target());
    let mut c = tofurkey();
    c.args(["-v", "-k", key.to_str().unwrap()])
        .args(["-P", target.to_str().unwrap()]);
    // SAFETY: close(2) is async-signal-safe, fine between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::close(2);
            Ok(())
        });
    }
    let status = c.status().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(bytes(&target), format!("{SPEC_PAIR}\0").as_bytes());

    // With stdin closed, `-k -` without the guard would read the target
    // (opened first, as fd 0) as the key; with it, stdin is /dev/null.
    let target = d.target();
    let mut c = tofurkey();
    c.args(["-k", "-", "-P", target.to_str().unwrap()])
        .stderr(Stdio::piped());
    // SAFETY: close(2) is async-signal-safe, fine between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::close(0);
            Ok(())
        });
    }
    refused(
        &bounded(&mut c),
        "error: standard input is a device, not a regular file or a pipe: pipe the key in \
         ('tofurkey -k - < FILE')",
        &target,
    );
}

/// No argument can add a log line or a notify field: control characters
/// in paths are escaped in stderr, `STATUS=` and the `--check` line.
#[test]
fn control_characters_are_escaped() {
    let d = Dir::new("escape");
    let forged = d.path("x\ninfo: keys set\nREADY=1");
    let socket = d.path("notify.sock");
    let sock = UnixDatagram::bind(&socket).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let target = d.target();
    let mut c = tofurkey();
    c.env("NOTIFY_SOCKET", &socket);
    let o = attempt(c, &target, &["-k", forged.to_str().unwrap()]);
    let escaped = d.path("x\\ninfo: keys set\\nREADY=1");
    refused(
        &o,
        &format!(
            "error: cannot read main key file {}: No such file or directory: check the path and \
             its permissions",
            escaped.display()
        ),
        &target,
    );
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(msg.contains(&escaped.display().to_string()), "{msg}");

    let o = run(&[
        "--check",
        "-k",
        forged.to_str().unwrap(),
        "-P",
        target.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains(&escaped.display().to_string()), "{out}");
}

/// `--check` answers a usage error the monitoring way: `UNKNOWN:` on
/// stdout and exit 3, wherever `--check` stands.
#[test]
fn check_usage_errors_are_unknown() {
    for args in [
        &["--check", "-i", "11"][..],
        &["-i", "11", "--check"],
        &["--check", "--bogus"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(3), "{args:?}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.starts_with("UNKNOWN: ") && out.lines().count() == 1,
            "{out}"
        );
        // stderr too: one line, not the usage text.
        let err = stderr(&o);
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{err}"
        );
    }
    let o = run(&["--check", "-i", "11"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "UNKNOWN: interval 11 is invalid: use an even number of seconds from 10 to 604800; see \
         'tofurkey --help'\n"
    );
}
