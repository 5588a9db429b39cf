//! The settings file, /etc/default/tofurkey: read by a run whose command
//! line names no setting, ignored by one that names any, refused (exit 2,
//! one line naming it and its line) when it is not what it must be.
//!
//! Each run is in a private mount and network namespace, with a tmpfs over
//! /etc/default (the host's is never read or written) and over /run.

mod common;

use common::*;
use std::process::Output;

/// `tofurkey ARGS` with `settings` as /etc/default/tofurkey (mode 0644,
/// root's, unless `owner` names another user); `ARGS` may end the command
/// and go on with more shell.
fn with_settings(settings: &str, owner: Option<&str>, args: &str) -> Output {
    let chown = owner.map_or(String::new(), |o| {
        format!("chown {o} /etc/default/tofurkey && ")
    });
    let mut c = with_private_run(&format!(
        "mount -t tmpfs tmpfs /etc/default && printf %s \"$1\" >/etc/default/tofurkey && \
         chmod 0644 /etc/default/tofurkey && {chown}{BIN} {args}"
    ));
    c.args(["sh", settings]);
    bounded(&mut c)
}

#[test]
fn a_command_line_without_settings_takes_the_files() {
    let o = with_settings("# the host's\nINTERVAL=3600\n", None, "-n -v -T 1000000");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains(", interval 3600, "), "{err}");
    // One that names a setting is taken as it is.
    let o = with_settings("INTERVAL=3600\n", None, "-n -v -T 1000000 -i 60");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains(", interval 60, "), "{err}");
    // The timer's schedule follows it.
    let o = with_settings("INTERVAL=3600\n", None, "--print-timer");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("# tofurkey.timer for an interval of 3600 s ("),
        "{out}"
    );
    // --check says which settings it compared against.
    let then_check = format!("-n -T 1000000 2>/dev/null; exec {BIN} --check -T 1000000");
    let o = with_settings("INTERVAL=3600\n", None, &then_check);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.trim_end()
            .ends_with(", settings /etc/default/tofurkey)"),
        "{out}"
    );
    // --tfo-only (a namespace instance) takes the interval alone: the
    // missing ticket directory is not even looked at.
    let both = "INTERVAL=3600\nNGINX_TICKETS=/run/missing\n";
    let o = with_settings(both, None, "-n -v -T 1000000 --tfo-only");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(", interval 3600, ") && !err.contains("ticket"),
        "{err}"
    );
    let o = with_settings(both, None, "-n -v -T 1000000");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("/run/missing"), "{}", stderr(&o));
    // And TIPC's master key, the namespace's too: this kernel has none, so
    // the run says so (and sets its TFO key all the same).
    let tipc = "TIPC=yes\nTIPC_REKEYING=60\nNGINX_TICKETS=/run/missing\n";
    let o = with_settings(tipc, None, "-T 1000000 --tfo-only");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: TIPC: the kernel has no TIPC") && !err.contains("/run/missing"),
        "{err}"
    );
    assert!(err.contains("set all the same: TFO keys"), "{err}");
    // Without the file: the defaults, as before.
    let o = bounded(&mut with_private_run(&format!(
        "mount -t tmpfs tmpfs /etc/default && exec {BIN} -n -v -T 1000000"
    )));
    assert!(stderr(&o).contains(", interval 86400, "), "{}", stderr(&o));
}

#[test]
fn a_settings_file_that_is_not_right_is_refused_by_its_line() {
    for (settings, owner, want) in [
        (
            "INTERVAL=3600\nNGINX_TICKET=/run/tofurkey\n",
            None,
            "error: settings /etc/default/tofurkey line 2: no setting is named NGINX_TICKET: \
             the settings are INTERVAL, NEXT_KEY_AT, NEXT_KEY, NGINX_TICKETS, HAPROXY_TICKETS, \
             HAPROXY_SOCKET, METRICS, TIPC and TIPC_REKEYING (see the file's comments)",
        ),
        (
            "TIPC=true\n",
            None,
            "error: settings /etc/default/tofurkey line 1: TIPC is yes or no: write yes or no",
        ),
        (
            "INTERVAL=3601\n",
            None,
            "error: settings /etc/default/tofurkey: ",
        ),
        (
            "METRICS=\"$HOME/t.prom\"\n",
            None,
            "error: settings /etc/default/tofurkey line 1: a quote, a backslash or '$' inside a \
             value is not read here: write the value plainly",
        ),
        (
            "INTERVAL=3600\n",
            Some("nobody"),
            "error: settings /etc/default/tofurkey (owner uid 65534, mode 0644) can be changed \
             by another user: 'chown root: FILE; chmod go-w FILE'",
        ),
    ] {
        let o = with_settings(settings, owner, "-n -T 1000000");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{settings}: {err}");
        assert!(err.starts_with(want), "{settings}: {err}");
        assert!(
            !err.contains("created a new random main key"),
            "{settings}: it ran: {err}"
        );
    }
}

/// The shipped file, one example uncommented, is read whole (it is longer
/// than a small read would take); a file of the most that is read is too,
/// and one byte more is refused.
#[test]
fn the_shipped_file_and_the_size_bound() {
    let shipped = include_str!("../etc/default-tofurkey");
    let uncommented = shipped.replace("#INTERVAL=86400", "INTERVAL=3600");
    assert_ne!(uncommented, shipped);
    let o = with_settings(&uncommented, None, "-n -v -T 1000000");
    assert!(stderr(&o).contains(", interval 3600, "), "{}", stderr(&o));
    // 64 KiB exactly: comments, then the setting.
    let setting = "INTERVAL=3600\n";
    let most = format!("{}\n{setting}", "#".repeat(64 * 1024 - setting.len() - 1));
    assert_eq!(most.len(), 64 * 1024);
    let o = with_settings(&most, None, "-n -v -T 1000000");
    assert!(stderr(&o).contains(", interval 3600, "), "{}", stderr(&o));
    let o = with_settings(&format!("#{most}"), None, "-n -T 1000000");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: settings /etc/default/tofurkey: longer than 65536 bytes"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_rollover_in_the_settings_file_reaches_service_and_namespace_runs() {
    let rollover = "INTERVAL=3600\nNEXT_KEY=/run/next.key\nNEXT_KEY_AT=1800000000\n\
                    NGINX_TICKETS=/run/missing\n";
    // A namespace instance (--tfo-only) takes the rollover with the interval.
    let args = format!(
        "--version >/dev/null && head -c 32 /dev/urandom >/run/next.key && \
         chmod 0600 /run/next.key && exec {BIN} -n -v -T 1799990000 --tfo-only"
    );
    let o = with_settings(rollover, None, &args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(", interval 3600, ") && err.contains(", next main key id "),
        "{err}"
    );
    // T not a multiple of the interval: the file's usage error.
    let o = with_settings(
        "INTERVAL=3600\nNEXT_KEY=/run/next.key\nNEXT_KEY_AT=1800000001\n",
        None,
        "-n -T 1000000",
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("take 1800000000 or 1800003600"),
        "{}",
        stderr(&o)
    );
}
