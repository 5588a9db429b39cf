//! A directory reached by its path from `/`, one component at a time, and
//! never through a symbolic link: the directory written into is the one the
//! path names, not one a link (planted, or swapped in between two steps)
//! points at. Each directory on the way may also be held to the rule for
//! what guards key material ([`Ancestors::Trusted`]), because whoever can
//! rename an entry in one of them can put a directory of their own at the
//! path after the run, where nginx or HAProxy then read it.
//!
//! A path with a link in it is refused, not resolved: the error names the
//! link and where it points, so that the admin gives that path instead. A
//! `..` is refused too: it would climb out of what was checked.

use std::env;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;

use crate::fileio::{Kind, WRITABLE_BY_OTHERS, openat, os_error, trusted_owner};

/// What the directories on the way to the one opened must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ancestors {
    /// Root's or the running user's, and writable by no one else unless
    /// sticky (where only an entry's owner may rename it): for what holds
    /// or receives key material.
    Trusted,
    /// Anyone's: for what holds nothing secret (the metrics file), where
    /// only links are refused.
    AnyOwner,
}

/// Why a directory on the way was refused.
#[derive(Debug)]
pub enum Problem {
    /// It could not be opened (missing, not searchable).
    Open(io::Error),
    /// It is a symbolic link, to this.
    Link(PathBuf),
    /// It is something else than a directory.
    NotDirectory,
    /// The path climbs up (`..`).
    DotDot,
    /// Another user owns or can write it.
    Untrusted {
        /// Its owner.
        owner: u32,
        /// Its permission bits.
        mode: u32,
    },
}

/// A path refused: `at` is the directory (or the given path, for `..`)
/// that was refused, and why.
#[derive(Debug)]
pub struct PathError {
    /// The directory refused, or the whole path for [`Problem::DotDot`].
    pub at: PathBuf,
    /// Why.
    pub problem: Problem,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at.display();
        match &self.problem {
            Problem::Open(why) => write!(f, "cannot open directory {at}: {}", os_error(why)),
            Problem::Link(to) => write!(
                f,
                "{at} is a symbolic link (to {}), not a directory",
                to.display()
            ),
            Problem::NotDirectory => write!(f, "{at} is not a directory"),
            Problem::DotDot => write!(f, "{at} climbs up a directory ('..')"),
            Problem::Untrusted { owner, mode } => write!(
                f,
                "directory {at} (owner uid {owner}, mode {mode:04o}) can be changed by another user"
            ),
        }
    }
}

impl PathError {
    /// What the admin should do about it (printed after the message).
    pub(crate) fn fix(&self) -> &'static str {
        match &self.problem {
            Problem::Open(why) if why.kind() == io::ErrorKind::PermissionDenied => {
                "run as root, or give a directory you own"
            }
            Problem::Open(_) => "check the path and its permissions",
            Problem::Link(_) => "give the path without links: the real directory",
            Problem::NotDirectory => "give a directory",
            Problem::DotDot => "give the path without '..'",
            Problem::Untrusted { .. } => "'chown root: DIR; chmod go-w DIR'",
        }
    }

    /// Whether the directory (or one on its way) does not exist.
    pub(crate) fn is_missing(&self) -> bool {
        matches!(&self.problem, Problem::Open(why) if why.kind() == io::ErrorKind::NotFound)
    }

    /// The refusal of directory `at` (owner `owner`, `st_mode` `mode`)
    /// under the rule for key material; `sticky_ok` lets a sticky one that
    /// others can write pass.
    pub(crate) fn untrusted(
        at: &Path,
        owner: u32,
        mode: u32,
        sticky_ok: bool,
    ) -> Result<(), PathError> {
        let mode = mode & 0o7777;
        let sticky = sticky_ok && mode & libc::S_ISVTX != 0;
        if !trusted_owner(owner) || (mode & WRITABLE_BY_OTHERS != 0 && !sticky) {
            return Err(PathError {
                at: at.to_path_buf(),
                problem: Problem::Untrusted { owner, mode },
            });
        }
        Ok(())
    }
}

/// Opens directory `path` (made absolute from the working directory if it
/// is relative) from `/`, one component at a time with `O_NOFOLLOW`, each
/// directory left behind held to `ancestors`. The fd is `O_PATH`: good for
/// the `*at` calls, `fstat` and `fstatfs`, nothing else; the directory
/// itself is the caller's to check.
pub fn open_dir(path: &Path, ancestors: Ancestors) -> Result<File, PathError> {
    let refused = |at: &Path, problem| PathError {
        at: at.to_path_buf(),
        problem,
    };
    // Refused whatever else the path holds: `..` would climb out of what
    // was checked.
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(refused(path, Problem::DotDot));
    }
    let absolute = match path.is_absolute() {
        true => path.to_path_buf(),
        false => env::current_dir()
            .map_err(|why| refused(Path::new("."), Problem::Open(why)))?
            .join(path),
    };
    let mut at = PathBuf::from("/");
    let mut dir = step(None, Path::new("/")).map_err(|p| refused(&at, p))?;
    for component in absolute.components() {
        let name = match component {
            Component::Normal(name) => name,
            // (`..` was refused above.)
            _ => continue,
        };
        if ancestors == Ancestors::Trusted {
            let meta = dir
                .metadata()
                .map_err(|why| refused(&at, Problem::Open(why)))?;
            PathError::untrusted(&at, meta.uid(), meta.mode(), true)?;
        }
        at.push(name);
        dir = step(Some(&dir), Path::new(name)).map_err(|p| refused(&at, p))?;
    }
    Ok(dir)
}

/// Opens directory `name` in `dir` (`None`: the root), never through a
/// link; a link or anything else is named as such.
fn step(dir: Option<&File>, name: &Path) -> Result<File, Problem> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
    let opened = match dir {
        Some(dir) => openat(dir, name, flags, Mode::empty()),
        None => OpenOptions::new()
            .read(true)
            .custom_flags(flags.bits() | libc::O_CLOEXEC)
            .open("/"),
    };
    match opened {
        Ok(file) => Ok(file),
        // With O_DIRECTORY and O_NOFOLLOW a link gives ENOTDIR (or ELOOP),
        // as a file does: look at what it is.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP)) => {
            // None: the root, named by its absolute path from the cwd.
            let fd = dir.map_or(nix::fcntl::AT_FDCWD, AsFd::as_fd);
            let Ok(st) = nix::sys::stat::fstatat(fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) else {
                return Err(Problem::Open(e));
            };
            Err(match Kind::of_mode(st.st_mode) {
                Some(Kind::Symlink) => match nix::fcntl::readlinkat(fd, name) {
                    Ok(to) => Problem::Link(to.into()),
                    Err(e) => Problem::Open(e.into()),
                },
                _ => Problem::NotDirectory,
            })
        }
        Err(e) => Err(Problem::Open(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    fn problem(path: &Path, ancestors: Ancestors) -> (PathBuf, String) {
        let e = open_dir(path, ancestors).unwrap_err();
        (e.at.clone(), e.to_string())
    }

    #[test]
    fn walks_real_directories_and_names_what_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path();
        fs::create_dir_all(base.join("a/b")).unwrap();
        fs::set_permissions(base, fs::Permissions::from_mode(0o700)).unwrap();
        symlink(base.join("a"), base.join("link")).unwrap();
        fs::write(base.join("file"), "").unwrap();
        let opened = open_dir(&base.join("a/b"), Ancestors::Trusted).unwrap();
        assert!(opened.metadata().unwrap().is_dir());
        // A trailing `.` names the same directory.
        assert!(open_dir(&base.join("a/b/."), Ancestors::Trusted).is_ok());

        let link = base.join("link");
        assert_eq!(
            problem(&link.join("b"), Ancestors::AnyOwner),
            (
                link.clone(),
                format!(
                    "{} is a symbolic link (to {}), not a directory",
                    link.display(),
                    base.join("a").display()
                )
            )
        );
        let file = base.join("file");
        assert_eq!(
            problem(&file.join("x"), Ancestors::AnyOwner),
            (
                file.clone(),
                format!("{} is not a directory", file.display())
            )
        );
        let up = base.join("a/b/..");
        assert_eq!(
            problem(&up, Ancestors::AnyOwner),
            (
                up.clone(),
                format!("{} climbs up a directory ('..')", up.display())
            )
        );
        let missing = base.join("missing");
        let e = open_dir(&missing.join("x"), Ancestors::AnyOwner).unwrap_err();
        assert!(e.is_missing());
        assert_eq!(e.at, missing);

        // An ancestor others can write: refused for keys, not for metrics.
        fs::set_permissions(base.join("a"), fs::Permissions::from_mode(0o777)).unwrap();
        let (at, message) = problem(&base.join("a/b"), Ancestors::Trusted);
        assert_eq!(at, base.join("a"));
        assert!(message.ends_with("mode 0777) can be changed by another user"));
        assert!(open_dir(&base.join("a/b"), Ancestors::AnyOwner).is_ok());
        // Sticky, as /tmp: only an entry's owner can rename it.
        fs::set_permissions(base.join("a"), fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(open_dir(&base.join("a/b"), Ancestors::Trusted).is_ok());
    }

    #[test]
    fn a_relative_path_is_walked_from_the_root() {
        // The working directory's own ancestors are walked too: "." is
        // the checkout, whose parents are real directories.
        assert!(open_dir(Path::new("src"), Ancestors::AnyOwner).is_ok());
        let e = open_dir(Path::new("no-such-dir/x"), Ancestors::AnyOwner).unwrap_err();
        assert_eq!(e.at, env::current_dir().unwrap().join("no-such-dir"));
    }
}
