//! `cli::parse` on arbitrary argument vectors: the input split at NUL bytes
//! (argv strings cannot hold one; the empty input is no argument at all),
//! any other bytes allowed, UTF-8 or not.
//! Besides "no panic", every answer must respect what the rest of the
//! program relies on.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;
use tofurkey::cli;
use tofurkey::options::{Command, KeySpec, Options};

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = match data {
        [] => Vec::new(),
        _ => data
            .split(|&b| b == 0)
            .map(|a| OsString::from_vec(a.to_vec()))
            .collect(),
    };
    match cli::parse(args.clone()) {
        // Every refusal of a command line is a usage error: exit 2 and a
        // message to print before the usage text.
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert_eq!(tofurkey::error::Error::from(e).exit_code(), 2);
        }
        Ok(Command::Run(o) | Command::Check(o)) => valid(&o),
        Ok(Command::PrintTimer(i, _)) => interval_ok(i.secs()),
        Ok(Command::Help | Command::Version) => {}
    }
    // No hidden state: the same arguments give the same answer.
    let again = |r: Result<Command, cli::UsageError>| r.map_err(|e| e.to_string());
    assert_eq!(again(cli::parse(args.clone())), again(cli::parse(args)));
});

/// What an accepted run may carry: the documented ranges and usable paths.
fn valid(o: &Options) {
    interval_ok(o.interval.secs());
    if let Some(t) = o.time {
        assert!((1_000_000..=100_000_000_000).contains(&t.secs()), "{o:?}");
    }
    assert!(!o.target.as_os_str().is_empty(), "{o:?}");
    if o.show_keys {
        assert!(o.verbose, "-V implies -v: {o:?}");
    }
    if let KeySpec::File(p) | KeySpec::Autokey(p) = &o.key {
        let bytes = p.as_os_str().as_encoded_bytes();
        assert!(!bytes.is_empty() && !bytes.ends_with(b"/"), "{o:?}");
    }
}

fn interval_ok(secs: u64) {
    assert!(
        secs.is_multiple_of(2) && (10..=604_800).contains(&secs),
        "interval {secs} accepted"
    );
}
