//! `--tipc` on a kernel without TIPC (this machine's): one line naming what
//! is missing and its fix, exit 1, and the TCP Fast Open key set all the
//! same; the option's refusals. The real kernel's proof is the VM suite
//! (`tests/tipc/test_tipc_vm.py`).

mod common;

use common::*;
use std::path::Path;

/// `tofurkey ARGS` in a private network and mount namespace with its own
/// /run (the stamp's place), as root.
fn in_private_namespace(args: &[&str]) -> std::process::Output {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!("exec '{BIN}' {}", quoted.join(" "));
    bounded(&mut with_private_run(&script))
}

fn host_has_tipc() -> bool {
    Path::new("/proc/sys/net/tipc").exists()
}

#[test]
fn a_kernel_without_tipc_is_one_line_and_the_tfo_key_is_set_all_the_same() {
    assert!(
        !host_has_tipc(),
        "this test needs a kernel without TIPC; the VM suite covers a kernel with it"
    );
    let dir = Dir::new("tipc");
    let key = dir.spec_key();
    let target = dir.target();
    let args = [
        "-T",
        "1000000",
        "-k",
        key.to_str().unwrap(),
        "-P",
        target.to_str().unwrap(),
        "--tipc",
        "--tipc-rekeying",
        "60",
    ];
    let o = in_private_namespace(&args);
    let error = the_error_line(&o);
    assert!(
        error.starts_with(
            "error: TIPC: the kernel has no TIPC (its generic netlink family TIPCv2 is missing): \
             load it ('modprobe tipc'"
        ),
        "{error}"
    );
    assert!(error.ends_with("; set all the same: TFO keys"), "{error}");
    // The TFO key is the test vector's pair, as without --tipc.
    let written = bytes(&target);
    assert_eq!(
        String::from_utf8_lossy(&written)
            .trim_end_matches('\0')
            .trim(),
        SPEC_PAIR
    );
    assert_no_secrets(&o.stderr, &secrets(&[SPEC_PAIR]));
}

#[test]
fn tipc_options_are_refused_as_usage_errors() {
    for (args, want) in [
        (
            &["--tipc-rekeying", "5"][..],
            "--tipc-rekeying needs --tipc",
        ),
        (
            &["--tipc", "--tipc-rekeying", "10081"][..],
            "--tipc-rekeying: 10081 minutes: give 0 (no rekeying) to 10080 (a week)",
        ),
        (
            &["--tipc", "--tipc-rekeying", "x"][..],
            "--tipc-rekeying: 'x' is not a whole number",
        ),
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn a_dry_run_does_not_look_for_tipc() {
    let dir = Dir::new("tipc-dry");
    let key = dir.spec_key();
    let o = run(&["-n", "-k", key.to_str().unwrap(), "--tipc"]);
    assert!(o.status.success(), "{}", stderr(&o));
}
