//! error.rs's tests.

use super::*;
use crate::keys::Form;
use crate::keysource::Source;
use crate::procfs::Step;
use std::path::PathBuf;

#[test]
fn exit_codes() {
    assert_eq!(Error::from(UsageError("x".into())).exit_code(), 2);
    let timer = Unexpressible {
        interval: 22,
        below: None,
        above: None,
    };
    assert_eq!(Error::from(timer).exit_code(), 2);
    assert_eq!(Error::Clock.exit_code(), 1);
    assert_eq!(Error::from(BadTime(5)).exit_code(), 1);
}

#[test]
fn fixes_fit_the_cause() {
    let short = |source| Error::from(KeyError::Short { source, len: 3 }).to_string();
    assert_eq!(
        short(Source::File("/k".into())),
        "main key file /k holds 3 bytes, needs at least 32: make a key with \
         '(umask 077; head -c 32 /dev/random > FILE)'"
    );
    assert_eq!(
        short(Source::Autokey("/a".into())),
        "autokey /a holds 3 bytes, needs 32: remove it, and the next run makes a new one"
    );
    let mismatch = |found| {
        Error::from(TargetError::Mismatch {
            path: PathBuf::from("/t"),
            found,
            kept: crate::procfs::Kept::Restored,
        })
        .to_string()
    };
    assert!(
        mismatch(Form::Key)
            .ends_with(": a kernel that keeps both keys (Linux 5.3 or later) is needed")
    );
    assert!(
        mismatch(Form::Pair)
            .ends_with(": check that nothing else writes it and that it keeps what is written")
    );
    let target = |step, errno| {
        Error::from(TargetError::Io {
            path: PathBuf::from("/t"),
            step,
            why: io::Error::from_raw_os_error(errno),
            kept: crate::procfs::Kept::NotWritten,
        })
        .to_string()
    };
    assert!(
        target(Step::Open, libc::EACCES)
            .ends_with(": run as root (or with CAP_NET_ADMIN), or check -P")
    );
    assert!(target(Step::Open, libc::ENOENT).ends_with("has TCP Fast Open"));
    assert!(target(Step::Write, libc::EINVAL).ends_with(": the kernel refused the text: check -P"));
    assert!(
        target(Step::Write, libc::EFBIG)
            .ends_with(": make room (or raise the file size limit), or check -P")
    );
    assert!(target(Step::Read, libc::EIO).ends_with("Input/output error: check -P"));
    // Only a missing file at the open points at TCP Fast Open.
    assert!(target(Step::Open, libc::EIO).ends_with("Input/output error: check -P"));
    let foreign = |owner, mode| {
        Error::from(KeyError::AutokeyForeign {
            path: PathBuf::from("/a"),
            owner,
            mode,
            user: 65534,
        })
        .to_string()
    };
    assert!(
        foreign(0, 0o600)
            .ends_with(": it is root's: run as root, or use -a PATH for one of your own")
    );
    assert!(foreign(0, 0o644).ends_with(": remove it (the next run makes a new one), or use -a PATH in a directory only you can write"));
    assert_eq!(
        Error::from(BadTime(5)).to_string(),
        "time 5 is outside 1000000..100000000000: set the clock (or -T) to a real unix time"
    );
}

#[test]
fn every_kind_of_error_ends_with_its_fix_or_its_message() {
    // No fix: the message itself says what would work; a usage error
    // points at --help, on the same line.
    let usage = Error::from(UsageError("invalid option '-x'".into()));
    assert_eq!(
        usage.to_string(),
        "invalid option '-x'; see 'tofurkey --help'"
    );
    let timer = Error::from(Unexpressible {
        interval: 14,
        below: Some(12),
        above: None,
    });
    assert!(
        timer
            .to_string()
            .ends_with("; nearest interval that works: 12")
    );
    let output = Error::Output(io::Error::from_raw_os_error(libc::ENOSPC));
    assert_eq!(
        output.to_string(),
        "cannot write to standard output: No space left on device"
    );
    // A fix each, from the error's own module.
    assert_eq!(
        Error::from(ClockError::BeforeEpoch).to_string(),
        "cannot read the system clock: fix the clock"
    );
    assert!(
        Error::SignalMask(SignalError::Hold(io::Error::from_raw_os_error(
            libc::EINVAL
        )))
        .to_string()
        .ends_with(": Invalid argument: report this as a bug")
    );
    assert_eq!(
        Error::SignalMask(SignalError::Watch(io::Error::from_raw_os_error(
            libc::EMFILE
        )))
        .to_string(),
        "cannot watch for stop signals (signalfd): Too many open files: check the open file \
         limit (LimitNOFILE=, ulimit -n) and memory"
    );
    assert_eq!(
        Error::Stopped(Signal::SIGTERM).to_string(),
        "stopped by SIGTERM, which came while signals were held: the run finished its writes \
         first: check what stopped the run (a shutdown, 'systemctl stop', TimeoutStartSec=)"
    );
    // What failed says its own fix; what was set follows.
    let partial = Error::Partial {
        failed: Box::new(Error::Stopped(Signal::SIGINT)),
        set: "TFO keys".into(),
    };
    assert_eq!(partial.exit_code(), 1);
    assert!(
        partial
            .to_string()
            .ends_with("TimeoutStartSec=); set all the same: TFO keys")
    );
    let metrics = |errno| {
        Error::Metrics(MetricsError::Io {
            path: PathBuf::from("/m/t.prom"),
            step: crate::promfile::Step::RenameIntoPlace,
            why: io::Error::from_raw_os_error(errno),
        })
        .to_string()
    };
    assert!(metrics(libc::ENOENT).ends_with(
        "No such file or directory: make the directory (node_exporter's textfile \
         directory; Debian's is /var/lib/prometheus/node-exporter); the keys are set"
    ));
    assert!(metrics(libc::EACCES).ends_with(
        "Permission denied: run as root, or let the unit write the directory \
         (ReadWritePaths=); the keys are set"
    ));
    assert!(metrics(libc::EIO).ends_with(": check the directory; the keys are set"));
}

/// Outputs tried one after the other: no failure is no error, one is
/// itself, several are one line, each with its own fix, joined by "; ".
#[test]
fn combined_failures() {
    let metrics = |errno| {
        Error::Metrics(MetricsError::Io {
            path: PathBuf::from("/m/t.prom"),
            step: crate::promfile::Step::RenameIntoPlace,
            why: io::Error::from_raw_os_error(errno),
        })
    };
    assert!(Error::combine(vec![]).is_none());
    let one = Error::combine(vec![metrics(libc::EROFS)]).unwrap();
    assert!(matches!(one, Error::Metrics(_)), "{one:?}");
    let both = Error::combine(vec![metrics(libc::EROFS), metrics(libc::ENOSPC)]).unwrap();
    assert_eq!(
        both.to_string(),
        format!("{}; {}", metrics(libc::EROFS), metrics(libc::ENOSPC))
    );
    assert_eq!(both.exit_code(), 1);
}
