//! The main key on standard input (`-k -`): a file redirected in, checked
//! as a key file is, or a pipe, read before a deadline ([`PIPE_WAIT`]) so
//! that a writer that stalls cannot hold the run.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::{Input, KeyError, Purpose, Source, trust_key_file};
use crate::fileio::Kind;

/// How long a key piped in on standard input may take to arrive. A pipe
/// whose writer is gone ends at once; this bounds a writer that stalls.
pub const PIPE_WAIT: Duration = Duration::from_secs(5);

/// Standard input: a file redirected in (checked as a key file), or a pipe
/// (whoever holds its other end is the one who ran the command, so no owner
/// check). The pipe is waited on here, before any byte is read, for at most
/// [`PIPE_WAIT`]; a pipe whose writer is gone is ready at once.
pub(super) fn open(purpose: Purpose, warnings: &mut Vec<String>) -> Result<Input, KeyError> {
    let file = File::from(io::stdin().as_fd().try_clone_to_owned().map_err(read_err)?);
    let meta = file.metadata().map_err(read_err)?;
    match Kind::of_mode(meta.mode()) {
        None => {
            trust_key_file(&Source::Stdin, &meta, None, purpose, warnings)?;
            Ok(Input::File(file))
        }
        Some(Kind::Fifo) => {
            // Non-blocking while we read, so that a read after poll(2) cannot
            // block if another reader took the bytes first; the flags are
            // put back when the pipe is dropped (the description may be
            // shared with whoever started us).
            let file = NonBlocking::new(file).map_err(read_err)?;
            let deadline = Instant::now() + PIPE_WAIT;
            if !wait_readable(&file.0, deadline).map_err(read_err)? {
                return Err(KeyError::StdinTimeout { len: 0 });
            }
            Ok(Input::Pipe(Pipe { file, deadline }))
        }
        Some(kind) => Err(KeyError::NotFile {
            source: Source::Stdin,
            kind,
        }),
    }
}

/// Standard input as a pipe that had data (or an end) before the deadline.
pub(super) struct Pipe {
    file: NonBlocking,
    deadline: Instant,
}

impl Pipe {
    /// Reads the key into `buf` until it is full or the pipe ends; returns
    /// its length. Too little by the deadline is an error.
    pub(super) fn read(mut self, buf: &mut [u8]) -> Result<usize, KeyError> {
        let (len, late) = read_pipe(&mut self.file.0, buf, self.deadline).map_err(read_err)?;
        if late {
            // The writer is still there but sent too little in time.
            return Err(KeyError::StdinTimeout { len });
        }
        Ok(len)
    }
}

fn read_err(why: io::Error) -> KeyError {
    KeyError::Read {
        source: Source::Stdin,
        why,
    }
}

/// A pipe made non-blocking, its file status flags put back on drop.
struct NonBlocking(File, OFlag);

impl NonBlocking {
    fn new(file: File) -> io::Result<NonBlocking> {
        let flags = OFlag::from_bits_retain(fcntl(&file, FcntlArg::F_GETFL)?);
        fcntl(&file, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        Ok(NonBlocking(file, flags))
    }
}

impl Drop for NonBlocking {
    fn drop(&mut self) {
        let _ = fcntl(&self.0, FcntlArg::F_SETFL(self.1));
    }
}

/// Waits until `file` can be read (data, or the writer gone) or `deadline`
/// passes; true when readable.
fn wait_readable(file: &File, deadline: Instant) -> io::Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads a pipe into `buf` until it is full, it ends, or `deadline`
/// passes; returns the length and whether the deadline cut it short.
fn read_pipe(file: &mut File, buf: &mut [u8], deadline: Instant) -> io::Result<(usize, bool)> {
    let mut len = 0;
    while len < buf.len() {
        if !wait_readable(file, deadline)? {
            return Ok((len, true));
        }
        match io::Read::read(file, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            // Taken by another reader, or a signal: wait again.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((len, false))
}
