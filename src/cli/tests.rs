//! The parser's tests: what it takes, what it refuses with which words,
//! and that --help and the man page name every option it takes.

use super::*;

fn run(args: &[&str]) -> Result<Command, UsageError> {
    parse(args.iter().map(OsString::from))
}

fn opts(args: &[&str]) -> Options {
    match run(args) {
        Ok(Command::Run(o)) => o,
        other => panic!("{args:?} gave {other:?}"),
    }
}

fn usage_error(args: &[&str]) -> String {
    match run(args) {
        Err(e) => e.to_string(),
        Ok(c) => panic!("{args:?} accepted as {c:?}"),
    }
}

#[test]
fn ticket_outputs() {
    let o = opts(&[
        "--nginx-tickets",
        "/run/t",
        "--haproxy-tickets",
        "/run/t/h.keys",
    ]);
    assert_eq!(o.tickets.nginx, Some(PathBuf::from("/run/t")));
    assert_eq!(o.tickets.haproxy_file, Some(PathBuf::from("/run/t/h.keys")));
    assert!(o.tickets.haproxy_socket.is_none());
    assert_eq!(opts(&[]).tickets, Tickets::default());
    assert_eq!(
        opts(&["--metrics", "/m.prom"]).metrics,
        Some(PathBuf::from("/m.prom"))
    );
    assert_eq!(opts(&[]).metrics, None);
    let o = opts(&["--haproxy-tickets=/k", "--haproxy-socket=/s"]);
    assert_eq!(o.tickets.haproxy_socket, Some(PathBuf::from("/s")));
    assert!(usage_error(&["--haproxy-socket", "/s"]).starts_with("--haproxy-socket needs"));
    assert_eq!(
        usage_error(&["--nginx-tickets", ""]),
        "--nginx-tickets: empty path"
    );
    match run(&["--check", "--nginx-tickets", "/run/t"]) {
        Ok(Command::Check(o)) => assert!(o.tickets.nginx.is_some()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn haproxy_file_not_one_of_nginx() {
    let msg = usage_error(&["--nginx-tickets=/t", "--haproxy-tickets=/t/next.key"]);
    assert!(msg.ends_with("a file of nginx's in --nginx-tickets /t: give it another name"));
}

#[test]
fn defaults() {
    let o = opts(&[]);
    assert_eq!(o.key, KeySpec::Default);
    assert_eq!(o.interval.secs(), 86_400);
    assert_eq!(o.target, PathBuf::from(DEFAULT_TARGET));
    assert!(!o.verbose && !o.show_keys && !o.dry_run && o.time.is_none());
}

#[test]
fn getopt_forms() {
    let o = opts(&["-vno", "-i3600", "-k", "/k", "-T", "1000000"]);
    assert!(o.verbose && o.dry_run && !o.show_keys);
    assert_eq!(o.interval.secs(), 3600);
    assert_eq!(o.key, KeySpec::File("/k".into()));
    assert_eq!(o.time.map(|t| t.secs()), Some(1_000_000));
    let o = opts(&["-i", "3600", "-Vn", "-a/run/x", "-P", "/tmp/t"]);
    assert!(o.verbose && o.show_keys && o.dry_run);
    assert_eq!(o.key, KeySpec::Autokey("/run/x".into()));
    assert_eq!(o.target, PathBuf::from("/tmp/t"));
    // A cluster may end in an option that takes the rest as its value.
    assert_eq!(opts(&["-vi10"]).interval.secs(), 10);
    // Last one wins, as with getopt.
    assert_eq!(opts(&["-i10", "-i20"]).interval.secs(), 20);
}

#[test]
fn long_forms() {
    let o = opts(&[
        "--key=/k",
        "--interval",
        "7200",
        "--verbose",
        "--dry-run",
        "--procfs",
        "/p",
        "--time=2000000",
    ]);
    assert_eq!(o.key, KeySpec::File("/k".into()));
    assert_eq!(o.interval.secs(), 7200);
    assert!(o.verbose && o.dry_run);
    assert_eq!(o.target, PathBuf::from("/p"));
    assert_eq!(
        opts(&["--autokey", "/a"]).key,
        KeySpec::Autokey("/a".into())
    );
    assert_eq!(run(&["-h"]).unwrap(), Command::Help);
    assert_eq!(run(&["--help"]).unwrap(), Command::Help);
    assert_eq!(run(&["--version"]).unwrap(), Command::Version);
    assert!(matches!(run(&["--check", "-k/k"]), Ok(Command::Check(_))));
    assert_eq!(
        run(&["--print-timer", "-i", "3600"]).unwrap(),
        Command::PrintTimer(Interval::new(3600).unwrap(), Settings::CommandLine)
    );
}

#[test]
fn stdin_key() {
    assert_eq!(opts(&["-k", "-"]).key, KeySpec::Stdin);
    assert_eq!(opts(&["-k/dev/stdin"]).key, KeySpec::Stdin);
    assert_eq!(opts(&["-k", "./-"]).key, KeySpec::File("./-".into()));
    assert_eq!(
        opts(&["-k", "/dev/stdin2"]).key,
        KeySpec::File("/dev/stdin2".into())
    );
}

/// Every option the parser takes, as `--help` and the man page name it.
const OPTIONS: [(&str, Option<&str>); 24] = [
    ("-k", Some("--key")),
    ("-a", Some("--autokey")),
    ("-i", Some("--interval")),
    ("-P", Some("--procfs")),
    ("-T", Some("--time")),
    ("-v", Some("--verbose")),
    ("-n", Some("--dry-run")),
    ("-o", None),
    ("-V", None),
    ("-h", Some("--help")),
    ("--metrics", None),
    ("--nginx-tickets", None),
    ("--haproxy-tickets", None),
    ("--haproxy-socket", None),
    ("--check", None),
    ("--print-timer", None),
    ("--version", None),
    ("--tfo-only", None),
    ("--next-key", None),
    ("--next-key-at", None),
    ("--tipc", None),
    ("--tipc-rekeying", None),
    // The value forms getopt also takes.
    ("-i3600", None),
    ("--interval=3600", None),
];

#[test]
fn help_and_man_page_list_every_option_the_parser_takes() {
    let man = include_str!("../../tofurkey.8").replace("\\-", "-");
    for (short, long) in OPTIONS {
        for opt in [Some(short), long].into_iter().flatten() {
            // Taken by the parser (a missing value is not an unknown option).
            let known = match run(&[opt]) {
                Err(e) => !e.0.starts_with("invalid option"),
                Ok(_) => true,
            };
            assert!(known, "{opt} is not an option");
            if opt.contains(['=', '3']) {
                continue;
            }
            assert!(
                USAGE.contains(&format!("{opt} ")) || USAGE.contains(&format!("{opt},")),
                "{opt} not in --help"
            );
            assert!(man.contains(opt), "{opt} not in the man page");
        }
    }
    // And no more: every option --help names is in the list.
    let named = USAGE
        .split(|c: char| c.is_whitespace() || "[]|,()".contains(c))
        .filter(|w| w.starts_with('-') && w.len() > 1 && !w.starts_with("-i3"));
    let listed = |w: &str| OPTIONS.iter().any(|(s, l)| *s == w || *l == Some(w));
    for word in named {
        let word = word.trim_end_matches(':');
        // A getopt cluster (-vnoV): each letter an option.
        let cluster = !word.starts_with("--") && word.len() > 2;
        let known = match cluster {
            true => word[1..].chars().all(|c| listed(&format!("-{c}"))),
            false => listed(word),
        };
        assert!(known, "--help names {word}, which the list lacks");
    }
}

/// The groups of --help hold what they say: TICKETS only the ticket
/// outputs (--print-timer is a mode of its own).
#[test]
fn help_groups_ticket_options_alone() {
    let tickets: Vec<&str> = USAGE
        .lines()
        .skip_while(|l| !l.starts_with("TICKETS:"))
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .collect();
    assert_eq!(tickets.len(), 4, "{tickets:?}");
    for line in tickets {
        let opt = line.split_whitespace().next().unwrap();
        assert!(
            opt.starts_with("--nginx-tickets") || opt.starts_with("--haproxy-") || opt == "admin",
            "{line}"
        );
    }
}

#[test]
fn usage_names_the_defaults() {
    assert!(USAGE.contains(DEFAULT_TARGET));
    assert!(USAGE.contains(crate::keysource::DEFAULT_AUTOKEY));
}

#[test]
fn check_is_seen_before_parsing() {
    let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
    assert!(asks_check(&args(&["-i", "11", "--check"])));
    assert!(asks_check(&args(&["--check", "--bogus"])));
    assert!(asks_check(&args(&["--check=yes"])));
    assert!(!asks_check(&args(&["-i", "11"])));
    assert!(!asks_check(&args(&["--", "--check"])));
}

#[test]
fn double_dash_ends_options() {
    assert!(usage_error(&["--", "-v"]).contains("unexpected argument '-v'"));
    assert!(opts(&["-v", "--"]).verbose);
}

#[test]
fn usage_errors() {
    assert!(usage_error(&["-k", "/a", "-a", "/b"]).contains("exclude"));
    assert!(usage_error(&["-k", ""]).contains("empty path"));
    assert!(usage_error(&["-a", ""]).contains("empty path"));
    assert!(usage_error(&["-k", "/etc/"]).contains("ends in '/'"));
    assert!(usage_error(&["-a", "dir/"]).contains("ends in '/'"));
    for opt in ["-a", "--haproxy-tickets", "--haproxy-socket", "--metrics"] {
        for dir in ["/run/x/.", "/run/x/.."] {
            assert_eq!(
                usage_error(&[opt, dir]),
                format!(
                    "{opt}: '{dir}' ends in '/', '.' or '..', or is not UTF-8: give a file's path"
                )
            );
        }
    }
    assert!(usage_error(&["-P", ""]).contains("empty path"));
    assert!(usage_error(&["stray"]).contains("unexpected argument 'stray'"));
    assert!(usage_error(&["-x"]).contains("-x"));
    assert!(usage_error(&["--bogus"]).contains("--bogus"));
    assert!(usage_error(&["-k"]).contains("missing argument"));
    assert!(usage_error(&["-i"]).contains("missing argument"));
    assert!(usage_error(&["--check", "--print-timer"]).contains("exclude"));
    assert!(usage_error(&["-v=1"]).contains("-v"));
}

#[test]
fn number_errors() {
    for (args, want) in [
        (&["-i", "abc"][..], "not a whole number"),
        (&["-i", "-10"], "not a whole number"),
        (&["-i", "+10"], "not a whole number"),
        (&["-i", " 10"], "not a whole number"),
        (&["-i", "10s"], "not a whole number"),
        (&["-i", ""], "not a whole number"),
        (&["-i", "99999999999999999999999"], "too large"),
        (&["-i", "11"], "interval 11 is invalid"),
        (&["-i", "8"], "interval 8 is invalid"),
        (&["-i", "604802"], "interval 604802 is invalid"),
        (&["-T", "999999"], "-T: time 999999 is outside"),
        (&["-T", "100000000001"], "outside"),
        (&["-T", "-5"], "not a whole number"),
        (&["-T", "18446744073709551616"], "too large"),
    ] {
        let msg = usage_error(args);
        assert!(msg.contains(want), "{args:?}: {msg}");
    }
}

#[test]
fn rollover_options_are_settings_and_go_together() {
    let o = opts(&[
        "--next-key",
        "/n",
        "--next-key-at",
        "1800000000",
        "-i",
        "3600",
    ]);
    assert_eq!(
        o.next_key,
        Some(NextKey {
            key: NextKeySpec::File("/n".into()),
            at: UnixTime::new(1_800_000_000).unwrap(),
        })
    );
    assert_eq!(o.next_key.unwrap().first_counter(o.interval), 500_000);
    // A command line naming either ignores the settings file.
    assert_eq!(o.settings, Settings::CommandLine);
    assert_eq!(opts(&[]).next_key, None);
    assert_eq!(
        usage_error(&["--next-key", "/n", "--next-key-at", "1800000001", "-i3600"]),
        "--next-key-at: 1800000001 is not a multiple of the interval (3600 s): take \
         1800000000 or 1800003600"
    );
    assert!(usage_error(&["--next-key", "/n"]).starts_with("--next-key needs --next-key-at"));
    // T alone: the next key is the credential tofurkey.key.next.
    let at = UnixTime::new(1_800_000_000).unwrap();
    let credential = Some(NextKey {
        key: NextKeySpec::Credential,
        at,
    });
    let alone = ["--next-key-at", "1800000000", "-i", "3600"];
    assert_eq!(opts(&alone).next_key, credential);
    assert!(usage_error(&["--next-key-at", "1800000001"]).starts_with("--next-key-at: "));
    assert!(
        usage_error(&["--next-key", "/n/", "--next-key-at", "1800000000"]).contains("file's path")
    );
}

/// HAProxy's runtime API names the ticket file in a command line: a space
/// or a ';' in it would split the command, so both are refused.
#[test]
fn haproxy_file_is_one_word_of_the_runtime_api() {
    for bad in ["/run/a b.keys", "/run/a;b.keys", "/run/é.keys"] {
        let msg = usage_error(&["--haproxy-tickets", bad]);
        assert!(
            msg.contains("HAProxy's runtime API cannot name it"),
            "{msg}"
        );
    }
    assert!(
        opts(&["--haproxy-tickets", "/run/a-b_c.keys"])
            .tickets
            .haproxy_file
            .is_some()
    );
}

/// A namespace instance (--tfo-only) sets the TFO key alone: any ticket
/// output, or the metrics file, is refused on its own.
#[test]
fn tfo_only_takes_no_other_output() {
    for other in [
        &["--nginx-tickets", "/run/t"][..],
        &["--haproxy-tickets", "/run/t.keys"],
        &["--metrics", "/run/t.prom"],
    ] {
        let args = [&["--tfo-only"][..], other].concat();
        assert!(
            usage_error(&args).starts_with("--tfo-only sets"),
            "{args:?}"
        );
    }
    assert!(opts(&["--tfo-only"]).tfo_only);
}
