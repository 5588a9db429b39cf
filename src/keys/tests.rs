//! keys.rs's tests.

use super::*;

const SPEC_MAIN: &str = "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b";
const SPEC_PAIR: &str = "c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577";

fn spec_key() -> MainKey {
    let mut b = [0u8; 32];
    hex::decode_to_slice(SPEC_MAIN, &mut b).unwrap();
    MainKey::new(b)
}

fn rollover_at<'a>(current: &'a MainKey, next: &'a MainKey, first: u64) -> Keys<'a> {
    Keys {
        current,
        rollover: Some(Rollover { next, first }),
    }
}

#[test]
fn rollover_rule_at_every_counter_around_t() {
    let (current, next) = (spec_key(), MainKey::new([7; 32]));
    let first = 20;
    let keys = rollover_at(&current, &next, first);
    for m in first - 2..=first + 2 {
        let want = if m >= first { &next } else { &current };
        assert!(std::ptr::eq(keys.for_counter(m), want), "counter {m}");
        for (p, b) in [(m, m + 1), (m + 1, m), (m, m - 1)] {
            let mixed = pair_text(keys, p, b);
            let by_rule = PairText::new(
                &keys.for_counter(p).derive(p),
                &keys.for_counter(b).derive(b),
            );
            assert_eq!(mixed.text(), by_rule.text());
            let from = |k: &MainKey, c: u64| {
                if c >= first {
                    next.derive(c)
                } else {
                    k.derive(c)
                }
            };
            let expected = PairText::new(&from(&current, p), &from(&current, b));
            assert_eq!(mixed.text(), expected.text(), "pair ({p}, {b})");
        }
    }
    // Well before T: the current key alone; from T on: the next alone.
    assert_eq!(
        pair_text(keys, 17, 18).text(),
        pair_text(&current, 17, 18).text()
    );
    assert_eq!(
        pair_text(keys, 20, 21).text(),
        pair_text(&next, 20, 21).text()
    );
    // Across T: one key from each.
    let across = pair_text(keys, 19, 20);
    assert_ne!(across.text(), pair_text(&current, 19, 20).text());
    assert_ne!(across.text(), pair_text(&next, 19, 20).text());
    assert_eq!(
        &across.text()[..35],
        &pair_text(&current, 19, 20).text()[..35]
    );
    assert_eq!(&across.text()[36..], &pair_text(&next, 19, 20).text()[36..]);
}

#[test]
fn no_rollover_is_the_current_key_alone() {
    let k = spec_key();
    let keys = Keys::single(&k);
    for m in [0, 11, 12, u64::MAX] {
        assert!(std::ptr::eq(keys.for_counter(m), &k));
    }
    assert_eq!(
        std::str::from_utf8(pair_text(keys, 11, 12).text()).unwrap(),
        SPEC_PAIR
    );
}

#[test]
fn spec_vector() {
    let p = pair_text(&spec_key(), 11, 12);
    assert_eq!(std::str::from_utf8(p.text()).unwrap(), SPEC_PAIR);
    assert_eq!(p.for_write().len(), 72);
    assert_eq!(p.for_write()[71], 0);
}

#[test]
fn counters_matter_and_order_matters() {
    let k = spec_key();
    assert_ne!(pair_text(&k, 11, 12).text(), pair_text(&k, 12, 11).text());
    assert_ne!(pair_text(&k, 11, 12).text(), pair_text(&k, 11, 13).text());
}

#[test]
fn fingerprints_are_stable_distinct_and_not_keys() {
    let k = spec_key();
    let id = k.fingerprint();
    assert_eq!(id.len(), 16);
    assert_eq!(id, spec_key().fingerprint());
    assert_ne!(id, MainKey::new([7; 32]).fingerprint());
    let pair = pair_text(&k, 11, 12);
    let pid = pair.fingerprint();
    assert_eq!(pid.len(), 16);
    assert_ne!(pid, pair_text(&k, 12, 13).fingerprint());
    let text = std::str::from_utf8(pair.text()).unwrap().replace('-', "");
    assert!(!text.contains(&id) && !text.contains(&pid) && !SPEC_MAIN.contains(&id));
}

/// The documented derivations, as other tools compute them; the values
/// come from Python's hashlib:
/// `blake2b(digest_size=8, key=main, salt=bytes(16), person=b"tofurkey-mainid\0")`
/// and `blake2b(text, digest_size=8, person=b"tofurkey-pairid\0")`.
#[test]
fn fingerprints_match_the_documented_derivation() {
    assert_eq!(spec_key().fingerprint(), "7ad202034d831e12");
    assert_eq!(
        pair_text(&spec_key(), 11, 12).fingerprint(),
        "3c6bf71f91f4ae4f"
    );
}

#[test]
fn forms() {
    let pair = pair_text(&spec_key(), 11, 12);
    assert_eq!(Form::of(pair.text()), Form::Pair);
    assert_eq!(Form::of(&pair.text()[..KEY_TEXT_LEN]), Form::Key);
    assert_eq!(Form::of(b""), Form::Empty);
    assert_eq!(
        Form::of(b"00000000-00000000-00000000-00000000,00000000-00000000-00000000-00000000"),
        Form::NeverSet
    );
    let upper = SPEC_PAIR.to_uppercase();
    assert_eq!(
        Form::of(upper.as_bytes()),
        Form::Other { len: 71, fields: 2 }
    );
    let semicolon = SPEC_PAIR.replace(',', ";");
    assert_eq!(
        Form::of(semicolon.as_bytes()),
        Form::Other { len: 71, fields: 1 }
    );
    assert_eq!(
        Form::of(&pair.text()[..64]),
        Form::Other { len: 64, fields: 2 }
    );
    assert_eq!(Form::of(b"a,b,c"), Form::Other { len: 5, fields: 3 });
    // One key's length is not enough: its text must be one well-formed key.
    let one = SPEC_PAIR[..KEY_TEXT_LEN].to_uppercase();
    assert_eq!(Form::of(one.as_bytes()), Form::Other { len: 35, fields: 1 });
}

/// A next key is refused only when every byte matches: two differences
/// that are the same bit flip must not cancel out.
#[test]
fn same_as_sees_every_difference() {
    let base = [0x5a; 32];
    let (mut one, mut two) = (base, base);
    one[31] ^= 1;
    two[0] ^= 1;
    two[31] ^= 1;
    assert!(MainKey::new(base).same_as(&MainKey::new(base)));
    assert!(!MainKey::new(base).same_as(&MainKey::new(one)));
    assert!(!MainKey::new(base).same_as(&MainKey::new(two)));
}

#[test]
fn never_set_is_zeros_only() {
    assert!(never_set(
        b"00000000-00000000-00000000-00000000,00000000-00000000-00000000-00000000"
    ));
    assert!(never_set(b"00000000-00000000-00000000-00000000"));
    assert!(!never_set(b""));
    assert!(
        !never_set(b"0"),
        "a file holding 0 is not a kernel's unset keys"
    );
    assert!(!never_set(SPEC_PAIR.as_bytes()));
    assert!(!never_set(b"00000000-00000000-00000000-00000001"));
}

#[test]
fn debug_hides_the_key() {
    assert_eq!(format!("{:?}", spec_key()), "MainKey(<secret>)");
}
