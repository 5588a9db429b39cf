//! The target: `/proc/sys/net/ipv4/tcp_fastopen_key` (or `-P`). One write,
//! then a read back, because the kernel can accept a write and keep less
//! than was written (before Linux 5.3 it silently drops the backup key).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::Error;
use crate::fileio;
use crate::keys::{PAIR_TEXT_LEN, PairText};

/// Room for what the kernel prints back (71 characters and a newline), with
/// space to notice anything longer.
const READ_MAX: usize = 128;
const _: () = assert!(READ_MAX > PAIR_TEXT_LEN + 1);

/// Writes the pair in one `write(2)` and checks that the target holds it.
pub fn write_keys(path: &Path, pair: &PairText) -> Result<(), Error> {
    let fail = |step, why| Error::Target {
        path: path.to_path_buf(),
        step,
        why,
    };
    // No O_CREAT: a missing target is an error, never a new file. No
    // O_TRUNC: procfs does not take it. O_NONBLOCK: a FIFO without a
    // reader fails (ENXIO) instead of hanging. O_SYNC as 1.3.4.
    let mut file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_SYNC | libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| fail("open", e))?;
    let data = pair.for_write();
    // One write(2): the kernel parses the value per write call, so the
    // pair must arrive whole.
    match file.write(data) {
        Ok(n) if n == data.len() => {}
        Ok(n) => {
            let why = io::Error::other(format!("short write, {n} of {} bytes", data.len()));
            return Err(fail("write", why));
        }
        Err(e) => return Err(fail("write", e)),
    }
    drop(file);
    let held = read_current(path)?;
    if held.as_slice() != pair.text() {
        return Err(Error::Mismatch {
            path: path.to_path_buf(),
            found: describe(&held),
        });
    }
    Ok(())
}

/// Reads the pair the target holds now: the text up to the first newline
/// or NUL. Wiped on drop.
pub fn read_current(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let fail = |why| Error::Target {
        path: path.to_path_buf(),
        step: "read",
        why,
    };
    let mut file = fileio::open_read(path).map_err(fail)?;
    let mut buf = Zeroizing::new([0u8; READ_MAX]);
    let len = fileio::read_up_to(&mut file, &mut buf[..]).map_err(fail)?;
    let end = buf[..len]
        .iter()
        .position(|&b| b == b'\n' || b == 0)
        .unwrap_or(len);
    Ok(Zeroizing::new(buf[..end].to_vec()))
}

/// A description of procfs content that reveals no key bytes.
pub fn describe(held: &[u8]) -> String {
    let keys = if held.is_empty() {
        0
    } else {
        held.split(|&b| b == b',').count()
    };
    match keys {
        0 => "nothing".into(),
        1 => "a single key".into(),
        2 if held.len() == PAIR_TEXT_LEN => "a different key pair".into(),
        n => format!("{} bytes in {n} fields, not a key pair", held.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_hold_no_key_bytes() {
        assert_eq!(describe(b""), "nothing");
        assert_eq!(
            describe(b"c998252e-8f89667d-31961e08-3897526b"),
            "a single key"
        );
        let pair = b"c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577";
        assert_eq!(describe(pair), "a different key pair");
        assert_eq!(describe(b"a,b,c"), "5 bytes in 3 fields, not a key pair");
    }
}
