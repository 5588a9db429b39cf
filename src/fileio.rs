//! File reading shared by the edges that read secrets (key sources, the
//! procfs target): opens that cannot block, reads into fixed buffers.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` for reading without blocking (a FIFO with no writer opens
/// at once) and without taking it as a controlling terminal.
pub fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
/// Reading into the caller's (wiped) buffer keeps secrets out of any
/// growing allocation.
pub fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}
