//! tickets.rs's tests.

use super::*;

const SPEC_MAIN: &str = "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b";

fn spec_key() -> MainKey {
    let mut b = [0u8; 32];
    hex::decode_to_slice(SPEC_MAIN, &mut b).unwrap();
    MainKey::new(b)
}

fn at(now: u64, interval: u64) -> Schedule {
    Schedule::at(
        UnixTime::new(now).unwrap(),
        Interval::new(interval).unwrap(),
    )
}

/// The README's test vector, computed with Python's hashlib:
/// `blake2b(digest_size=16, key=main, salt=(11).to_bytes(8, "little") +
/// bytes(8), person=b"tofurkey-tkname\0")` and likewise for the others.
#[test]
fn spec_vector() {
    let k = TicketKey::derive(&spec_key(), 11);
    assert_eq!(hex::encode(k.name()), "2d1c9f5ae203c4b258f75c6e85a88b03");
    assert_eq!(
        hex::encode(k.aes()),
        "1044e7bd0bfe084a14f527fafe9c5b79746994f9112b6a062f4d16647be32661"
    );
    assert_eq!(
        hex::encode(k.hmac()),
        "725f9241b37e092e41c6648e0005034d3afcb059c82ce7530fc94b64cc7af386"
    );
    // `base64.b64encode(name + aes + hmac)`: HAProxy's line.
    assert_eq!(
        &k.haproxy_base64()[..],
        b"LRyfWuIDxLJY91xuhaiLAxBE570L/ghKFPUn+v6cW3l0aZT5EStqBi9NFmR74yZhcl+SQbN+CS5BxmSOAAUDTTr8sFnILOdTD8lLZMx684Y="
    );
    // `blake2b(names of 10, 11, 12, digest_size=8, person=b"tofurkey-tickid\0")`.
    let set = TicketSet::derive(&spec_key(), at(1_000_000, 86_400));
    assert_eq!(set.fingerprint(), "18e865e338bc5e94");
    let file = set.haproxy_file();
    assert_eq!(file.len(), HAPROXY_FILE_LEN);
    assert_eq!(
        &file[BASE64_LEN + 1..2 * BASE64_LEN + 1],
        &k.haproxy_base64()[..]
    );
    assert_eq!(file.iter().filter(|&&b| b == b'\n').count(), 3);
    let files = set.nginx_files();
    assert_eq!(&files[KEY_LEN..2 * KEY_LEN], &k.nginx_parts().concat()[..]);
    assert_eq!(files.len(), 240);
}

#[test]
fn layouts() {
    let k = TicketKey::derive(&spec_key(), 11);
    let (ngx, hap) = (k.nginx_parts().concat(), k.haproxy());
    assert_eq!(&ngx[..16], k.name());
    assert_eq!(&ngx[16..48], k.hmac());
    assert_eq!(&ngx[48..], k.aes());
    assert_eq!(&hap[..16], k.name());
    assert_eq!(&hap[16..48], k.aes());
    assert_eq!(&hap[48..], k.hmac());
}

#[test]
fn parts_are_independent_and_counters_matter() {
    let main = spec_key();
    let k = TicketKey::derive(&main, 11);
    assert_ne!(k.aes(), k.hmac());
    assert_ne!(k.name(), &k.aes()[..16]);
    let mut tfo = [0; 16];
    main.derive_into(11, &PERSONAL, &mut tfo);
    assert_ne!(k.name(), tfo, "not the TFO key");
    assert_ne!(k.name(), TicketKey::derive(&main, 12).name());
    assert_ne!(k.aes(), TicketKey::derive(&MainKey::new([7; 32]), 11).aes());
}

#[test]
fn base64_matches_rfc4648() {
    let mut bytes = [0u8; KEY_LEN];
    bytes[..6].copy_from_slice(b"foobar");
    let mut text = [0; BASE64_LEN];
    base64(&bytes, &mut text);
    assert!(text.starts_with(b"Zm9vYmFy"));
    assert_eq!(text[BASE64_LEN - 1], b'=');
    assert_eq!(text[BASE64_LEN - 2], b'A');
    let mut all = [0; BASE64_LEN];
    base64(&[0xff; KEY_LEN], &mut all);
    assert!(all[..BASE64_LEN - 4].iter().all(|&c| c == b'/'));
    assert_eq!(&all[BASE64_LEN - 4..], b"//8=");
}

#[test]
fn schedule() {
    let s = at(1_000_000, 86_400);
    assert_eq!(s.current, 11);
    assert_eq!(s.counters(), [10, 11, 12]);
    assert_eq!(s.next_change(), 12 * 86_400);
    // The half-interval boundary changes the TFO pair, not the set.
    assert_eq!(at(23 * 86_400 + 43_200, 86_400), at(23 * 86_400, 86_400));
    assert_eq!(at(12 * 86_400 - 1, 86_400), s);
    assert_eq!(at(12 * 86_400, 86_400).current, 12);
    assert_eq!(s.previous().map(|p| p.current), Some(10));
    let later = at(2_000_000, 86_400);
    assert_eq!(later.previous(), Some(at(23 * 86_400 - 1, 86_400)));
    // n = 1 (the earliest time, the longest interval): no previous set.
    assert_eq!(at(1_000_000, 604_800).current, 1);
    assert_eq!(at(1_000_000, 604_800).previous(), None);
}

#[test]
fn set_fingerprint_is_stable_and_changes_with_the_set() {
    let main = spec_key();
    let set = TicketSet::derive(&main, at(1_000_000, 86_400));
    let id = set.fingerprint();
    assert_eq!(id.len(), 16);
    assert_eq!(
        id,
        TicketSet::derive(&main, at(1_000_001, 86_400)).fingerprint()
    );
    assert_ne!(
        id,
        TicketSet::derive(&main, at(1_100_000, 86_400)).fingerprint()
    );
    assert_eq!(set.current().name(), TicketKey::derive(&main, 11).name());
}

#[test]
fn rollover_rule_for_every_set_around_t() {
    use crate::keys::Rollover;
    let (current, next) = (spec_key(), MainKey::new([7; 32]));
    let first = 20;
    let keys = Keys {
        current: &current,
        rollover: Some(Rollover { next: &next, first }),
    };
    for n in first - 2..=first + 2 {
        let schedule = at(n * 86_400, 86_400);
        let set = TicketSet::derive(keys, schedule);
        for (key, m) in set.keys.iter().zip(schedule.counters()) {
            let by_rule = if m >= first { &next } else { &current };
            assert_eq!(
                key.haproxy(),
                TicketKey::derive(by_rule, m).haproxy(),
                "set {n}, key {m}"
            );
        }
    }
    // Before T − I: the current key's set; from T + I: the next key's.
    let before = at((first - 2) * 86_400, 86_400);
    let after = at((first + 1) * 86_400, 86_400);
    assert_eq!(
        TicketSet::derive(keys, before).haproxy_file().as_ref(),
        TicketSet::derive(&current, before).haproxy_file().as_ref()
    );
    assert_eq!(
        TicketSet::derive(keys, after).haproxy_file().as_ref(),
        TicketSet::derive(&next, after).haproxy_file().as_ref()
    );
}

/// The compile-time check that keeps the KDF's domains apart finds a
/// repeat wherever it is, and a difference in any byte.
#[test]
fn domain_check_finds_a_repeat() {
    assert!(distinct(&DOMAINS));
    for (i, j) in [(0, 1), (3, 9), (8, 9)] {
        let mut repeated = DOMAINS;
        repeated[j] = repeated[i];
        assert!(!distinct(&repeated), "{i} and {j}");
    }
    let mut last = PERSONAL;
    last[15] ^= 1;
    assert!(!same(&PERSONAL, &last) && same(&PERSONAL, &PERSONAL));
}

/// A ticket key's Debug output (in a panic or a log) names no byte of it.
#[test]
fn debug_hides_the_key() {
    let k = TicketKey::derive(&spec_key(), 11);
    assert_eq!(format!("{k:?}"), "TicketKey(<secret>)");
}
