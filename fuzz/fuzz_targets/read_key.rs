//! `keysource::read_key` on a regular file holding arbitrary bytes of any
//! length: at least 32 bytes give exactly the first 32, fewer a "short"
//! error with the right count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tofurkey::error::Error;
use tofurkey::keys::{MAIN_KEY_LEN, MainKey};
use tofurkey::keysource::read_key;

fuzz_target!(|data: &[u8]| {
    let path = tofurkey_fuzz::scratch("read_key").join("main.key");
    std::fs::write(&path, data).expect("write the key file");
    match (read_key("main key file", &path), data.len()) {
        (Ok(key), n) if n >= MAIN_KEY_LEN => {
            let want = MainKey::new(data[..MAIN_KEY_LEN].try_into().unwrap());
            assert_eq!(
                key.fingerprint(),
                want.fingerprint(),
                "not the first 32 bytes"
            );
        }
        (Err(Error::KeyShort { len, .. }), n) if n < MAIN_KEY_LEN => assert_eq!(len, n),
        (Ok(_), n) => panic!("accepted a key of {n} bytes"),
        (Err(e), n) => panic!("{n} bytes refused: {e}"),
    }
});
