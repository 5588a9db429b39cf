//! File access shared by the edges that read secrets or write keys (key
//! sources, the procfs target, the ticket directories): opens that cannot block or act on a device,
//! and reads into fixed buffers.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// What a path is when it is not a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Directory,
    /// A FIFO (named pipe) or a pipe.
    Fifo,
    /// A character or block device.
    Device,
    /// A socket.
    Socket,
    /// A symbolic link (seen only where links are not followed).
    Symlink,
}

impl Kind {
    /// `None` for a regular file, else what it is; `mode` is `st_mode`
    /// (type and permission bits).
    pub fn of_mode(mode: u32) -> Option<Kind> {
        match mode & libc::S_IFMT {
            libc::S_IFREG => None,
            libc::S_IFDIR => Some(Kind::Directory),
            libc::S_IFIFO => Some(Kind::Fifo),
            libc::S_IFSOCK => Some(Kind::Socket),
            libc::S_IFLNK => Some(Kind::Symlink),
            _ => Some(Kind::Device),
        }
    }

    /// The name an error message uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Directory => "directory",
            Kind::Fifo => "FIFO",
            Kind::Device => "device",
            Kind::Socket => "socket",
            Kind::Symlink => "symbolic link",
        }
    }
}

/// What a path is expected to be, in the messages that say it is not.
pub(crate) const REGULAR_FILE: &str = "regular file";

/// "X is a KIND, not a regular file": the message for a path (`.0`) that
/// is something else (`.1`).
pub(crate) struct NotRegularFile<T>(pub T, pub Kind);

impl<T: fmt::Display> fmt::Display for NotRegularFile<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is a {}, not a {REGULAR_FILE}", self.0, self.1.name())
    }
}

/// Why a path could not be opened as a regular file.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The system call failed.
    Io(io::Error),
    /// It is something else.
    NotRegular(Kind),
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> OpenError {
        OpenError::Io(e)
    }
}

/// Opens `path` (following symlinks) if it is a regular file, for reading,
/// or with `write` for reading and synchronous writing; never creates it.
///
/// The type is checked on the path first, so a FIFO or a device is never
/// opened at all (opening one can block, or act: a tape rewinds). The open
/// is `O_NONBLOCK` and `O_NOCTTY` all the same, and the type is checked
/// again on the fd, because the path may have been swapped in between.
pub(crate) fn open_regular(path: &Path, write: bool) -> Result<File, OpenError> {
    if let Some(kind) = Kind::of_mode(fs::metadata(path)?.mode()) {
        return Err(OpenError::NotRegular(kind));
    }
    // O_SYNC when writing, as 1.3.4: the write returns once it is done.
    let sync = if write { libc::O_SYNC } else { 0 };
    let file = OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | sync)
        .open(path)?;
    if let Some(kind) = Kind::of_mode(file.metadata()?.mode()) {
        return Err(OpenError::NotRegular(kind));
    }
    Ok(file)
}

/// Permission bits that let group or others write a file or directory.
pub(crate) const WRITABLE_BY_OTHERS: u32 = 0o022;
/// Any group or other permission: what a file of key material must have
/// none of (an autokey, a ticket key file).
pub(crate) const ANY_OTHERS: u32 = 0o077;
// Writable by others is one kind of "any group or other".
const _: () = assert!(WRITABLE_BY_OTHERS & !ANY_OTHERS == 0);

/// Whether `uid` may own what holds or receives key material: root or the
/// running (effective) user, ssh's rule for private keys.
pub(crate) fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

/// The directory a file `path` is in: its parent, or `.` for a bare name
/// (where `Path::parent` gives the empty path).
pub(crate) fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The file name `path` ends in, as written: `None` when it ends in `/`,
/// `.` or `..`, which name a directory (where `Path::file_name` would take
/// the name before a trailing `.`), or is not UTF-8.
pub(crate) fn file_name(path: &Path) -> Option<&str> {
    let bytes = path.as_os_str().as_encoded_bytes();
    match bytes.rsplit(|&b| b == b'/').next()? {
        b"" | b"." | b".." => None,
        name => std::str::from_utf8(name).ok(),
    }
}

/// An OS error's text without std's "(os error N)": the errno's name is
/// what an admin searches for, the number adds nothing.
pub(crate) fn os_error(why: &io::Error) -> String {
    let s = why.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
/// Reading into the caller's (wiped) buffer keeps secrets out of any
/// growing allocation.
pub(crate) fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
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

/// Like [`read_up_to`], from offset 0 whatever the file position: the target
/// is read before and after a write through the same fd.
pub(crate) fn read_from_start(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = 0;
    while len < buf.len() {
        match file.read_at(&mut buf[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

/// `openat(2)` relative to `dir`, always close-on-exec.
pub(crate) fn openat(dir: &File, name: &Path, flags: OFlag, mode: Mode) -> io::Result<File> {
    let fd = nix::fcntl::openat(dir, name, flags | OFlag::O_CLOEXEC, mode)?;
    Ok(File::from(fd))
}

/// What `Staged::write` was doing when it failed, in the words of the
/// messages (`cannot STEP FILE: why`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageStep {
    /// Random bytes for the temporary name.
    Random,
    /// Creating the temporary file.
    Create,
    /// Writing and syncing it.
    Write,
}

impl fmt::Display for StageStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StageStep::Random => "get random bytes for",
            StageStep::Create => "create a temporary file for",
            StageStep::Write => "write",
        })
    }
}

/// A file written whole under a temporary name in its directory, then
/// renamed over its name by [`Staged::commit`]: a reader sees the old file
/// or the new one, never a mix. Removed if dropped before.
pub(crate) struct Staged<'a> {
    dir: &'a File,
    tmp: PathBuf,
    name: &'a str,
    done: bool,
}

impl<'a> Staged<'a> {
    /// Writes and syncs `content` to a new file beside `name` in `dir`, of
    /// a random name made with O_EXCL (nothing another user put there can
    /// be it), with `mode` whatever the umask. The error names the step.
    pub fn write(
        dir: &'a File,
        name: &'a str,
        content: &[u8],
        mode: u32,
    ) -> Result<Staged<'a>, (StageStep, io::Error)> {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| (StageStep::Random, e.into()))?;
        let tmp = format!(".{name}.{}.tmp", hex::encode(random));
        let tmp = PathBuf::from(tmp);
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY;
        let mut file = openat(dir, &tmp, flags, Mode::from_bits_truncate(mode))
            .map_err(|e| (StageStep::Create, e))?;
        let staged = Staged {
            dir,
            tmp,
            name,
            done: false,
        };
        file.set_permissions(fs::Permissions::from_mode(mode))
            .and_then(|()| file.write_all(content))
            .and_then(|()| file.sync_all())
            .map_err(|e| (StageStep::Write, e))?;
        Ok(staged)
    }

    /// The name it replaces.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Renames it over its name.
    pub fn commit(mut self) -> io::Result<()> {
        nix::fcntl::renameat(self.dir, &self.tmp, self.dir, self.name)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ =
                nix::unistd::unlinkat(self.dir, &self.tmp, nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_is_the_last_component_as_written() {
        fn name(p: &str) -> Option<&str> {
            file_name(Path::new(p))
        }
        assert_eq!(name("/run/t/haproxy.keys"), Some("haproxy.keys"));
        assert_eq!(name("haproxy.keys"), Some("haproxy.keys"));
        for directory in ["/run/t/", "/run/t/x/.", "/run/t/x/..", ".", "..", "/", ""] {
            assert_eq!(name(directory), None, "{directory}");
        }
    }

    #[test]
    fn os_errors_keep_the_systems_words_without_the_number() {
        let enoent = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(os_error(&enoent), "No such file or directory");
        let eloop = io::Error::from_raw_os_error(libc::ELOOP);
        assert_eq!(os_error(&eloop), "Too many levels of symbolic links");
        assert_eq!(
            os_error(&io::Error::other("not an OS error")),
            "not an OS error"
        );
    }

    /// A staged file that is never committed leaves nothing behind; one
    /// that is takes its name, with its content and mode.
    #[test]
    fn a_staged_file_is_committed_or_removed() {
        let t = tempfile::tempdir().unwrap();
        let dir = File::open(t.path()).unwrap();
        let names = || -> Vec<String> {
            let mut v: Vec<_> = fs::read_dir(t.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        let staged = Staged::write(&dir, "current.key", b"one", 0o600).unwrap();
        assert_eq!(staged.name(), "current.key");
        assert_eq!(names().len(), 1, "the staged file is there");
        drop(staged);
        assert!(names().is_empty(), "{:?}", names());
        Staged::write(&dir, "current.key", b"two", 0o640)
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(names(), ["current.key"]);
        let path = t.path().join("current.key");
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
    }

    /// A read that fails ends with its error: only EINTR is retried, and
    /// retrying any other (EIO from a failing disk) would spin forever.
    #[test]
    fn read_errors_other_than_eintr_are_returned() {
        // read(2) of a directory fails with EISDIR.
        let mut dir = File::open(std::env::temp_dir()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4];
            let up_to = read_up_to(&mut dir, &mut buf).map_err(|e| e.raw_os_error());
            let from_start = read_from_start(&dir, &mut buf).map_err(|e| e.raw_os_error());
            let _ = tx.send((up_to, from_start));
        });
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the read spins on its error");
        assert_eq!(got, (Err(Some(libc::EISDIR)), Err(Some(libc::EISDIR))));
    }
}
