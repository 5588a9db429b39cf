//! A directory of ticket key files: checked before a byte of key is read,
//! then its files replaced atomically, each only when its content changes.
//!
//! Checked once, on the directory's own fd (its final component never
//! followed): a real directory, on tmpfs (a ticket key must never reach a
//! disk, where it would outlive its three intervals and a reboot), owned by
//! root or the running user and writable by its owner only, so that no
//! other user can plant, swap or remove a file in it. Every entry is then
//! reached relative to that fd, never through a link.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::sys::statfs::{TMPFS_MAGIC, fstatfs};
use zeroize::Zeroizing;

use crate::fileio::{
    Kind, NotRegularFile, StageStep, Staged, WRITABLE_BY_OTHERS, openat, os_error, read_up_to,
    trusted_owner,
};

/// Mode of every key file tofurkey makes: these (and the stamp beside
/// them), and the autokey.
pub(crate) const KEY_FILE_MODE: u32 = 0o600;
/// The largest file compared: 3 HAProxy lines of 108 characters and a
/// newline each; a longer file just differs.
pub const COMPARED_MAX: usize = 3 * 109;

/// Why a key directory or one of its files cannot be used.
#[derive(Debug)]
pub enum DirError {
    /// The directory could not be opened (missing, not searchable).
    Open {
        /// The directory.
        path: PathBuf,
        /// The system's reason.
        why: io::Error,
    },
    /// The path is a symbolic link (its final component is never followed).
    Symlink {
        /// The directory.
        path: PathBuf,
    },
    /// The path is not a directory.
    NotDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The directory is not on tmpfs.
    NotTmpfs {
        /// The directory.
        path: PathBuf,
    },
    /// Another user owns or can write the directory.
    Untrusted {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Its permission bits.
        mode: u32,
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
            DirError::Open { path, why } => {
                write!(
                    f,
                    "cannot open directory {}: {}",
                    path.display(),
                    os_error(why)
                )
            }
            DirError::Symlink { path } => {
                write!(f, "{} is a symbolic link, not a directory", path.display())
            }
            DirError::NotDirectory { path } => write!(f, "{} is not a directory", path.display()),
            DirError::NotTmpfs { path } => write!(
                f,
                "{} is not on tmpfs: ticket keys must not reach a disk",
                path.display()
            ),
            DirError::Untrusted { path, owner, mode } => write!(
                f,
                "directory {} (owner uid {owner}, mode {mode:04o}) can be changed by another user",
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
            DirError::Open { why, .. } if why.kind() == io::ErrorKind::NotFound => {
                "make it on tmpfs ('install -d -m 0700 DIR'); tofurkey.service makes \
                 /run/tofurkey"
            }
            DirError::Open { why, .. } | DirError::Io { why, .. }
                if why.kind() == io::ErrorKind::PermissionDenied =>
            {
                "run as root, or give a directory you own"
            }
            DirError::Open { .. } => "check the path and its permissions",
            DirError::Symlink { .. } => "give the real directory, not a link to it",
            DirError::NotDirectory { .. } => "give a directory",
            DirError::NotTmpfs { .. } => "use a directory under /run",
            DirError::Untrusted { .. } => "'chown root: DIR; chmod go-w DIR'",
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

/// Checks that directory `path` (its metadata `meta`) is root's or the
/// running user's and that no one else can write it; with `sticky_ok`, a
/// sticky directory others can write passes (only owners rename in it).
fn trusted(path: &Path, meta: &fs::Metadata, sticky_ok: bool) -> Result<(), DirError> {
    let (owner, mode) = (meta.uid(), meta.mode() & 0o7777);
    let sticky = sticky_ok && mode & libc::S_ISVTX != 0;
    if !trusted_owner(owner) || (mode & WRITABLE_BY_OTHERS != 0 && !sticky) {
        return Err(DirError::Untrusted {
            path: path.to_path_buf(),
            owner,
            mode,
        });
    }
    Ok(())
}

/// A checked key directory.
pub struct KeyDir {
    fd: File,
    path: PathBuf,
}

impl KeyDir {
    /// Opens and checks `path` (see the module doc). Creates nothing.
    pub fn open(path: &Path) -> Result<KeyDir, DirError> {
        let fd = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|why| match why.raw_os_error() {
                // With O_DIRECTORY a link gives ENOTDIR, as a file does.
                Some(libc::ELOOP | libc::ENOTDIR)
                    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
                {
                    DirError::Symlink {
                        path: path.to_path_buf(),
                    }
                }
                Some(libc::ENOTDIR) => DirError::NotDirectory {
                    path: path.to_path_buf(),
                },
                _ => DirError::Open {
                    path: path.to_path_buf(),
                    why,
                },
            })?;
        let io = |why: io::Error| DirError::Open {
            path: path.to_path_buf(),
            why,
        };
        trusted(path, &fd.metadata().map_err(io)?, false)?;
        // Its parent too: whoever can write it could rename this directory
        // away and put one of their own, with their keys, in its place
        // (a sticky parent such as /dev/shm lets only owners rename).
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            trusted(parent, &fs::metadata(parent).map_err(io)?, true)?;
        }
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
        match nix::sys::stat::fstatat(
            Some(self.fd.as_raw_fd()),
            name,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
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
    pub fn read(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, DirError> {
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
        let mut buf = Zeroizing::new(vec![0u8; COMPARED_MAX + 1]);
        let len = read_up_to(&mut file, &mut buf).map_err(|e| self.io(name, Step::Read, e))?;
        buf.truncate(len);
        Ok(Some(buf))
    }

    /// Puts each `(name, content)` in place whose file does not already
    /// hold exactly that content; returns how many were replaced.
    ///
    /// Every changed file is first written in full to a temporary file of
    /// its own in this directory (created with O_EXCL, mode [`KEY_FILE_MODE`]); only
    /// when all are written are they renamed over their names, in the
    /// given order. A failure before the renames changes nothing.
    pub fn replace(&self, files: &[(&str, &[u8])]) -> Result<usize, DirError> {
        let mut staged = Vec::with_capacity(files.len());
        for &(name, content) in files {
            let held = self.read(name)?;
            if held.as_deref().map(|h| &h[..]) != Some(content) {
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
        let open = |errno| DirError::Open {
            path: "/d".into(),
            why: why(errno),
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
