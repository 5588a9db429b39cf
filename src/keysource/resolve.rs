//! A key path followed as the kernel follows it, link by link, so that a
//! link another user owns is refused (whoever owns a link can point it at
//! another file: one they can read, or whose bytes they know).

use std::env;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use super::{KeyError, Source, euid};
use crate::fileio::trusted_owner;

/// How many links a path may go through, as the kernel allows (ELOOP).
const MAX_LINKS: usize = 40;

/// A key path as the kernel follows it, link by link: the file it names,
/// by a path with no link in it, and that file's device and inode.
#[derive(Debug)]
pub(super) struct Resolved {
    /// The file, by a path with no link in it.
    pub(super) real: PathBuf,
    /// Its device and inode.
    pub(super) id: (u64, u64),
}

/// One step of a path still to be followed.
enum Step {
    Up,
    Down(OsString),
}

/// Pushes the steps of `path` so that its first is popped first.
fn push_steps(todo: &mut Vec<Step>, path: &Path) {
    for c in path.components().rev() {
        match c {
            Component::ParentDir => todo.push(Step::Up),
            Component::Normal(name) => todo.push(Step::Down(name.to_owned())),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

/// Follows `path` as the kernel would (`lstat` on each component, every
/// link read and followed), refusing a link owned by neither root nor the
/// running user: whoever owns a link can point it at another file (one
/// they can read, or whose bytes they know). Reads no file.
pub(super) fn resolve(source: &Source, path: &Path) -> Result<Resolved, KeyError> {
    let read_err = |why| KeyError::Read {
        source: source.clone(),
        why,
    };
    let mut real = match path.is_absolute() {
        true => PathBuf::from("/"),
        false => env::current_dir().map_err(read_err)?,
    };
    let mut todo = Vec::new();
    push_steps(&mut todo, path);
    let (mut links, mut last) = (0, None);
    while let Some(step) = todo.pop() {
        let name = match step {
            // `real` holds no link: its parent is the lexical one.
            Step::Up => {
                real.pop();
                last = None;
                continue;
            }
            Step::Down(name) => name,
        };
        let next = real.join(name);
        let meta = fs::symlink_metadata(&next).map_err(read_err)?;
        if !meta.file_type().is_symlink() {
            real = next;
            last = Some(meta);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(read_err(io::Error::from_raw_os_error(libc::ELOOP)));
        }
        if !trusted_owner(meta.uid()) {
            return Err(KeyError::Link {
                source: source.clone(),
                link: next,
                owner: meta.uid(),
                user: euid(),
            });
        }
        let target = fs::read_link(&next).map_err(read_err)?;
        if target.is_absolute() {
            real = PathBuf::from("/");
        }
        push_steps(&mut todo, &target);
        last = None;
    }
    let meta = match last {
        Some(meta) => meta,
        None => fs::symlink_metadata(&real).map_err(read_err)?,
    };
    Ok(Resolved {
        real,
        id: (meta.dev(), meta.ino()),
    })
}
