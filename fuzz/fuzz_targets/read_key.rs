//! A key file (`-k`) holding arbitrary bytes of any length, opened and read
//! as a run does: at least 32 bytes give exactly the first 32, fewer a
//! "short" error with the right count, 32 leading zero bytes a refusal,
//! 32 leading bytes of text (printable ASCII, tab, LF, CR) one warning.
#![no_main]

use std::os::unix::fs::PermissionsExt;

use libfuzzer_sys::fuzz_target;
use tofurkey::keys::{MAIN_KEY_LEN, MainKey};
use tofurkey::keysource::{self, KeyError, Purpose, Source};

fuzz_target!(|data: &[u8]| {
    let path = tofurkey_fuzz::scratch("read_key").join("main.key");
    std::fs::write(&path, data).expect("write the key file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let got = keysource::open(&Source::File(path), Purpose::check(false)).and_then(
        |(opened, warnings)| {
            assert!(warnings.is_empty(), "{warnings:?}");
            opened.read()
        },
    );
    let zeros = data.len() >= MAIN_KEY_LEN && data[..MAIN_KEY_LEN].iter().all(|&b| b == 0);
    match (got, data.len()) {
        (Err(KeyError::Zero { .. }), _) => assert!(zeros, "refused as zeros"),
        (Ok(loaded), n) if n >= MAIN_KEY_LEN && !zeros => {
            let want = MainKey::new(data[..MAIN_KEY_LEN].try_into().unwrap());
            assert_eq!(
                loaded.key.fingerprint(),
                want.fingerprint(),
                "not the first 32 bytes"
            );
            assert!(!loaded.created);
            let text = data[..MAIN_KEY_LEN]
                .iter()
                .all(|&b| b.is_ascii_graphic() || b" \t\n\r".contains(&b));
            assert_eq!(loaded.warnings.len(), usize::from(text), "{:?}", loaded.warnings);
        }
        (Err(KeyError::Short { len, .. }), n) if n < MAIN_KEY_LEN => assert_eq!(len, n),
        (Ok(_), n) => panic!("accepted a key of {n} bytes"),
        (Err(e), n) => panic!("{n} bytes refused: {e}"),
    }
});
