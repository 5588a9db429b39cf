//! error.rs's tests.

use super::*;

#[test]
fn fixes_follow_the_system_error_and_the_refusal() {
    let io = |errno| SocketError::Io {
        path: "/s".into(),
        step: Step::Connect,
        why: io::Error::from_raw_os_error(errno),
    };
    assert_eq!(
        io(libc::ECONNREFUSED).fix(),
        Some("nothing listens: start HAProxy")
    );
    assert_eq!(io(libc::EACCES).fix(), Some("run as root"));
    assert_eq!(io(libc::EPIPE).fix(), Some("check HAProxy and its socket"));
    for (refusal, words, fix) in [
        (
            Refusal::Denied,
            "it refused: the socket is not at admin level",
            "add 'level admin' to its 'stats socket' line",
        ),
        (
            Refusal::UnknownFile,
            "no tls-ticket-keys in its configuration names the file",
            "make a 'tls-ticket-keys' in haproxy.cfg name exactly this file, and reload \
             HAProxy",
        ),
        (
            Refusal::OtherKeySize,
            "its keys for the file are not 80-byte keys",
            "reload HAProxy: it loads the file tofurkey wrote",
        ),
        (
            Refusal::NotHaproxy,
            "its answer is not HAProxy's runtime API",
            "give the path of HAProxy's admin socket",
        ),
    ] {
        let refused = SocketError::Refused {
            path: "/s".into(),
            file: "/k".into(),
            refusal,
        };
        assert_eq!(
            refused.to_string(),
            format!("HAProxy socket /s, ticket keys /k: {words}")
        );
        assert_eq!(refused.fix(), Some(fix));
    }
    // Each step of the exchange in its own words.
    for (step, words) in [
        (Step::OpenDirectory, "open its directory"),
        (Step::InspectDirectory, "inspect its directory"),
        (Step::Open, "open it"),
        (Step::Inspect, "inspect it"),
        (Step::MakeSocket, "make a socket"),
        (Step::Connect, "connect"),
        (Step::IdentifyServer, "identify its server"),
        (Step::Send, "send"),
        (Step::Read, "read"),
    ] {
        let failed = SocketError::Io {
            path: "/s".into(),
            step,
            why: io::Error::from_raw_os_error(libc::EPIPE),
        };
        assert_eq!(
            failed.to_string(),
            format!("HAProxy socket /s: cannot {words}: Broken pipe")
        );
    }
}

#[test]
fn each_trust_failure_names_what_failed_and_its_real_owner_or_mode() {
    let path = PathBuf::from("/run/haproxy/admin.sock");
    let cases = [
        (
            SocketError::OpenDirectory {
                path: path.clone(),
                mode: libc::S_IFDIR | 0o777,
            },
            "HAProxy socket /run/haproxy/admin.sock: its directory (mode 0777) can be \
             written by other users",
            "let only its owner and group write the directory (chmod o-w), or put the \
             socket in one that is",
        ),
        (
            SocketError::ForeignSocket {
                path: path.clone(),
                uid: 65534,
            },
            "HAProxy socket /run/haproxy/admin.sock is owned by uid 65534, neither root nor \
             this user",
            "HAProxy makes its socket as root: find out who made this one",
        ),
        (
            SocketError::ForeignServer {
                path: path.clone(),
                uid: 65534,
            },
            "HAProxy socket /run/haproxy/admin.sock is served by uid 65534, neither root nor \
             this user",
            "HAProxy listens as root (it binds before dropping privileges): find out what \
             listens there",
        ),
    ];
    for (e, message, fix) in cases {
        assert_eq!(e.to_string(), message);
        assert_eq!(e.fix(), Some(fix));
    }
}

#[test]
fn a_cut_exchange_names_its_deadline_or_its_signal() {
    let path = PathBuf::from("/s");
    let late = |deadline| SocketError::NoAnswer {
        path: path.clone(),
        deadline,
    };
    assert_eq!(
        late(Deadline::Read).to_string(),
        "HAProxy socket /s: no complete answer within 5 s"
    );
    assert_eq!(
        late(Deadline::Push).to_string(),
        "HAProxy socket /s: the push was not done within its 10 s deadline"
    );
    let stopped = SocketError::Stopped {
        path: path.clone(),
        signal: Signal::SIGTERM,
    };
    assert_eq!(
        stopped.to_string(),
        "HAProxy socket /s: the push was stopped by SIGTERM"
    );
    assert_eq!(
        stopped.fix(),
        Some("HAProxy keeps the keys it took, and the next run pushes the rest")
    );
    assert_eq!(
        SocketError::TooLong { path }.fix(),
        Some("give the path of HAProxy's admin socket")
    );
}
