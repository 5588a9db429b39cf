//! The two service units, `tofurkey.service` and `tofurkey@.service`, run
//! the same program with the same hardening: every directive of one is in
//! the other, but for the few that make the template a per-namespace
//! instance, each listed below with its reason. A directive added to one
//! and forgotten in the other fails here.

use std::collections::BTreeSet;
use std::fs;

/// The directives of a unit file as `[Section] Key=value`, comments and
/// blank lines dropped.
fn directives(name: &str) -> BTreeSet<String> {
    let path = format!("{}/systemd/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut section = String::new();
    let mut found = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        found.insert(format!("{section} {line}"));
    }
    found
}

fn set(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

#[test]
fn the_template_has_the_hosts_hardening() {
    let host = directives("tofurkey.service");
    let template = directives("tofurkey@.service");
    // Only tofurkey.service's: the host's description; the outputs, which
    // are the host's (the template's runs are --tfo-only): the earlier
    // versions' metrics drop-in, the ticket directory nginx and HAProxy of
    // the host read, written before they start, and the metrics directory.
    let host_only = set(&[
        "[Unit] Description=Set TCP Fast Open keys from the main key and the clock",
        "[Service] ExecStart=/usr/sbin/tofurkey $TOFURKEY_OPTIONS $TOFURKEY_METRICS",
        "[Service] RuntimeDirectory=tofurkey",
        "[Service] RuntimeDirectoryMode=0700",
        "[Service] RuntimeDirectoryPreserve=yes",
        "[Unit] Before=nginx.service haproxy.service",
        "[Service] ReadWritePaths=-/var/lib/prometheus/node-exporter",
    ]);
    // Only the template's: which namespace it sets, a clear failure when
    // that namespace does not exist, and the refusal of a name that is not
    // a plain one ("..", which systemd's path checks ignore).
    let template_only = set(&[
        "[Unit] Description=Set TCP Fast Open keys in network namespace %i (/run/netns/%i)",
        "[Unit] AssertPathExists=/run/netns/%i",
        "[Service] NetworkNamespacePath=/run/netns/%i",
        concat!(
            "[Service] ExecStartPre=/bin/sh -c 'case \"$$1\" in \"\"|.|..|*/*) echo \"refused: ",
            "$$1 is not a network namespace name: ip netns add NAME makes one, for ",
            "tofurkey@NAME.service\" >&2; exit 1;; esac' sh %i"
        ),
        "[Service] ExecStart=/usr/sbin/tofurkey --tfo-only $TOFURKEY_OPTIONS",
    ]);
    let differ = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> BTreeSet<String> {
        a.difference(b).cloned().collect()
    };
    assert_eq!(
        differ(&host, &template),
        host_only,
        "tofurkey.service has directives tofurkey@.service lacks"
    );
    assert_eq!(
        differ(&template, &host),
        template_only,
        "tofurkey@.service has directives tofurkey.service lacks"
    );
    // The hardening is there at all: a few that matter most.
    for d in [
        "[Service] NoNewPrivileges=yes",
        "[Service] CapabilityBoundingSet=CAP_NET_ADMIN CAP_IPC_LOCK",
        "[Service] ProtectSystem=strict",
        "[Service] SystemCallFilter=@system-service",
    ] {
        assert!(template.contains(d), "{d} missing");
    }
}
