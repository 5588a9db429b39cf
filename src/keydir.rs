//! A directory of ticket key files: checked before a byte of key is read,
//! then its files replaced atomically, each only when its content changes.
//!
//! Reached from `/` without following a link, every directory on the way
//! root's or the running user's and closed to others (or sticky), and
//! checked once, on the directory's own fd: a real directory, on tmpfs (a
//! ticket key must never reach a disk, where it would outlive its three
//! intervals and a reboot), owned by root or the running user and writable
//! by its owner only, so that no other user can plant, swap or remove a
//! file in it. Every entry is then reached relative to that fd, never
//! through a link.
//!
//! A key file is the running user's, readable by no one else: one that is
//! not (its mode changed, or another user's) is replaced even when its
//! content is right, and `--check` reports it.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::sys::statfs::{TMPFS_MAGIC, fstatfs};
use nix::unistd::geteuid;
use zeroize::Zeroizing;

use crate::dirpath::{self, Ancestors, PathError, Problem};
use crate::fileio::{
    ANY_OTHERS, Kind, NotRegularFile, StageStep, Staged, openat, os_error, read_up_to,
};

/// Mode of every key file tofurkey makes: these (and the stamp beside
/// them), and the autokey.
pub(crate) const KEY_FILE_MODE: u32 = 0o600;
/// The largest file compared: 3 HAProxy lines of 108 characters and a
/// newline each; a longer file just differs.
pub const COMPARED_MAX: usize = 3 * 109;

/// What a key file holds, and whether another user may read it.
pub struct Held {
    /// Its first [`COMPARED_MAX`] + 1 bytes.
    pub bytes: Zeroizing<Vec<u8>>,
    /// Another user owns it, or its mode lets group or others in.
    pub exposed: bool,
}

/// Why a key directory or one of its files cannot be used.
#[derive(Debug)]
pub enum DirError {
    /// The directory, or one on its way, was refused (missing, a link,
    /// `..`, another user's).
    Path(PathError),
    /// The directory is not on tmpfs.
    NotTmpfs {
        /// The directory.
        path: PathBuf,
    },
    /// A file was asked for, and the path names a directory (it ends in
    /// `/`, or `..`).
    NotFilePath {
        /// The path.
        path: PathBuf,
    },
    /// A key file's name is taken by something that is not a regular file.
    NotFile {
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: Kind,
    },
    /// A read, write or rename failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        step: Step,
        /// The system's reason.
        why: io::Error,
    },
}

impl fmt::Display for DirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirError::Path(e) => write!(f, "{e}"),
            DirError::NotTmpfs { path } => write!(
                f,
                "{} is not on tmpfs: ticket keys must not reach a disk",
                path.display()
            ),
            DirError::NotFilePath { path } => {
                write!(f, "{} names a directory, not a file", path.display())
            }
            DirError::NotFile { path, kind } => {
                write!(f, "{}", NotRegularFile(path.display(), *kind))
            }
            DirError::Io { path, step, why } => {
                write!(f, "cannot {step} {}: {}", path.display(), os_error(why))
            }
        }
    }
}

impl DirError {
    /// What the admin should do about it (printed after the message).
    pub(crate) fn fix(&self) -> Option<&'static str> {
        Some(match self {
            DirError::Path(e) if e.is_missing() => {
                "make it on tmpfs ('install -d -m 0700 DIR'); tofurkey.service makes \
                 /run/tofurkey"
            }
            DirError::Path(e) => e.fix(),
            DirError::Io { why, .. } if why.kind() == io::ErrorKind::PermissionDenied => {
                "run as root, or give a directory you own"
            }
            DirError::NotTmpfs { .. } => "use a directory under /run",
            DirError::NotFilePath { .. } => "give the path of a file in the directory",
            DirError::NotFile { .. } => "remove it: tofurkey puts a regular file there",
            DirError::Io { .. } => "check the directory and the space left in it",
        })
    }
}

/// What was being done to a key file when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Looking at what is there (never followed).
    Inspect,
    /// Opening it to read.
    Open,
    /// Reading it.
    Read,
    /// Writing the new file under a temporary name.
    Stage(StageStep),
    /// Renaming the new file over its name.
    RenameIntoPlace,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Inspect => "inspect",
            Step::Open => "open",
            Step::Read => "read",
            Step::Stage(step) => return step.fmt(f),
            Step::RenameIntoPlace => "rename into place",
        })
    }
}

/// A checked key directory.
pub struct KeyDir {
    fd: File,
    path: PathBuf,
}

impl KeyDir {
    /// Opens and checks `path` (see the module doc). Creates nothing.
    pub fn open(path: &Path) -> Result<KeyDir, DirError> {
        let fd = dirpath::open_dir(path, Ancestors::Trusted).map_err(DirError::Path)?;
        let io = |why: io::Error| {
            DirError::Path(PathError {
                at: path.to_path_buf(),
                problem: Problem::Open(why),
            })
        };
        let meta = fd.metadata().map_err(io)?;
        // The directory itself, unlike those on its way, may not be
        // sticky and open to others: anyone could add a file.
        PathError::untrusted(path, meta.uid(), meta.mode(), false).map_err(DirError::Path)?;
        let fs = fstatfs(&fd).map_err(|e| io(e.into()))?.filesystem_type();
        if fs != TMPFS_MAGIC {
            return Err(DirError::NotTmpfs {
                path: path.to_path_buf(),
            });
        }
        Ok(KeyDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The directory, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of entry `name`, for messages.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Checks that `name` is absent or a regular file (never followed).
    pub fn check(&self, name: &str) -> Result<(), DirError> {
        self.present(name).map(|_| ())
    }

    /// Whether `name` is there, if it is absent or a regular file (never
    /// followed).
    fn present(&self, name: &str) -> Result<bool, DirError> {
        match nix::sys::stat::fstatat(&self.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(self.io(name, Step::Inspect, e.into())),
            Ok(st) => match Kind::of_mode(st.st_mode) {
                None => Ok(true),
                Some(kind) => Err(DirError::NotFile {
                    path: self.path_of(name),
                    kind,
                }),
            },
        }
    }

    /// Reads file `name` (up to [`COMPARED_MAX`] bytes); `None` if it is absent.
    /// (One that appears after the check is replaced all the same.)
    pub fn read(&self, name: &str) -> Result<Option<Held>, DirError> {
        if !self.present(name)? {
            return Ok(None);
        }
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
        let mut file = match openat(&self.fd, Path::new(name), flags, Mode::empty()) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(name, Step::Open, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| self.io(name, Step::Inspect, e))?;
        if let Some(kind) = Kind::of_mode(meta.mode()) {
            return Err(DirError::NotFile {
                path: self.path_of(name),
                kind,
            });
        }
        let mut bytes = Zeroizing::new(vec![0u8; COMPARED_MAX + 1]);
        let len = read_up_to(&mut file, &mut bytes).map_err(|e| self.io(name, Step::Read, e))?;
        bytes.truncate(len);
        let exposed = meta.uid() != geteuid().as_raw() || meta.mode() & ANY_OTHERS != 0;
        Ok(Some(Held { bytes, exposed }))
    }

    /// Puts each `(name, content)` in place whose file does not already
    /// hold exactly that content, readable by no one else; returns how many
    /// were replaced.
    ///
    /// Every changed file is first written in full to a temporary file of
    /// its own in this directory (created with O_EXCL, mode [`KEY_FILE_MODE`]); only
    /// when all are written are they renamed over their names, in the
    /// given order. A failure before the renames changes nothing.
    pub fn replace(&self, files: &[(&str, &[u8])]) -> Result<usize, DirError> {
        let mut staged = Vec::with_capacity(files.len());
        for &(name, content) in files {
            let held = self.read(name)?;
            if !held.is_some_and(|h| !h.exposed && h.bytes[..] == *content) {
                staged.push(self.stage(name, content)?);
            }
        }
        let replaced = staged.len();
        for file in staged {
            let name = file.name();
            file.commit()
                .map_err(|e| self.io(name, Step::RenameIntoPlace, e))?;
        }
        Ok(replaced)
    }

    /// Writes `content` to a new temporary file beside `name`.
    fn stage<'a>(&'a self, name: &'a str, content: &[u8]) -> Result<Staged<'a>, DirError> {
        Staged::write(&self.fd, name, content, KEY_FILE_MODE)
            .map_err(|(step, e)| self.io(name, Step::Stage(step), e))
    }

    fn io(&self, name: &str, step: Step, why: io::Error) -> DirError {
        DirError::Io {
            path: self.path_of(name),
            step,
            why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_follow_the_system_error() {
        let why = |errno| io::Error::from_raw_os_error(errno);
        let open = |errno| {
            DirError::Path(PathError {
                at: "/d".into(),
                problem: Problem::Open(why(errno)),
            })
        };
        let io = |errno| DirError::Io {
            path: "/d/k".into(),
            step: Step::Read,
            why: why(errno),
        };
        assert!(
            open(libc::ENOENT)
                .fix()
                .unwrap()
                .starts_with("make it on tmpfs")
        );
        let owned = Some("run as root, or give a directory you own");
        assert_eq!(open(libc::EACCES).fix(), owned);
        assert_eq!(io(libc::EACCES).fix(), owned);
        assert_eq!(
            open(libc::EIO).fix(),
            Some("check the path and its permissions")
        );
        assert_eq!(
            io(libc::ENOSPC).fix(),
            Some("check the directory and the space left in it")
        );
    }
}
