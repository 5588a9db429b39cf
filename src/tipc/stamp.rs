//! What this boot's runs last set in a network namespace's TIPC: the
//! master key's id and the rekeying interval, in `/run/tofurkey/tipc-COOKIE`
//! (COOKIE: the namespace's cookie, never reused while the system runs).
//!
//! Why: the kernel starts a master key's nonce counter again at every set,
//! so setting the same key again would reuse AES-GCM nonces under it; and
//! setting the rekeying interval restarts its timer, so a timer run every
//! half interval would postpone a longer rekeying forever. A run sets only
//! what differs from the stamp. /run is tmpfs: a reboot, which empties
//! TIPC's keys, empties it too.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::error::TipcError;
use crate::dirpath::{self, Ancestors, PathError};
use crate::fileio::{self, Staged, trusted_owner};

/// Where the stamps are: tofurkey's runtime directory (the unit's
/// `RuntimeDirectory=`), made 0700 if a manual run finds none.
pub(crate) const STAMP_DIR: &str = "/run/tofurkey";
/// A stamp holds two short lines.
const STAMP_MAX: usize = 128;

/// What a namespace holds, as far as this boot's runs know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The master key's id.
    pub key_id: Option<String>,
    /// The rekeying interval set, in minutes.
    pub rekeying: Option<u32>,
}

impl Stamp {
    /// `key ID` and `rekeying MINUTES` lines; anything else (an older or
    /// damaged stamp) reads as nothing known, so the run sets everything.
    fn parse(text: &str) -> Stamp {
        let mut stamp = Stamp::default();
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("key", id)) if id.len() == 16 => stamp.key_id = Some(id.to_string()),
                Some(("rekeying", m)) => stamp.rekeying = m.parse().ok(),
                _ => return Stamp::default(),
            }
        }
        stamp
    }

    fn render(&self) -> String {
        let mut text = String::new();
        if let Some(id) = &self.key_id {
            text.push_str(&format!("key {id}\n"));
        }
        if let Some(m) = self.rekeying {
            text.push_str(&format!("rekeying {m}\n"));
        }
        text
    }
}

/// The stamp file of one namespace, in a directory checked as key
/// material's is (root's or ours, closed to others, reached without links):
/// another user who could plant a stamp could stop the key being set.
pub(crate) struct StampFile {
    dir: File,
    /// The directory's path, for messages.
    at: PathBuf,
    name: String,
}

impl StampFile {
    /// The stamp of the namespace whose cookie is `cookie`, its directory
    /// made if missing.
    pub(crate) fn open(cookie: u64) -> Result<StampFile, TipcError> {
        StampFile::open_in(Path::new(STAMP_DIR), cookie)
    }

    /// [`StampFile::open`] in the directory `path` (a test's own).
    fn open_in(path: &Path, cookie: u64) -> Result<StampFile, TipcError> {
        let dir = match dirpath::open_dir(path, Ancestors::Trusted) {
            Ok(dir) => dir,
            Err(e) if e.is_missing() && e.at == path => {
                make_dir(path)?;
                dirpath::open_dir(path, Ancestors::Trusted).map_err(TipcError::StampPath)?
            }
            Err(e) => return Err(TipcError::StampPath(e)),
        };
        let meta = dir.metadata().map_err(|e| stamp_error(path, e))?;
        // The directory itself is held to the rule its ancestors were.
        PathError::untrusted(path, meta.uid(), meta.mode(), false).map_err(TipcError::StampPath)?;
        Ok(StampFile {
            dir,
            at: path.to_path_buf(),
            name: format!("tipc-{cookie:016x}"),
        })
    }

    /// What it says; nothing known when there is none.
    pub(crate) fn read(&self) -> Result<Stamp, TipcError> {
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK;
        let mut file = match fileio::openat(&self.dir, Path::new(&self.name), flags, Mode::empty())
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Stamp::default()),
            Err(e) => return Err(stamp_error(&self.path(), e)),
        };
        let meta = file.metadata().map_err(|e| stamp_error(&self.path(), e))?;
        // Not ours, or not a file: worth nothing, and replaced after the set.
        if !meta.is_file() || !trusted_owner(meta.uid()) {
            return Ok(Stamp::default());
        }
        let mut buf = [0u8; STAMP_MAX];
        let len =
            fileio::read_up_to(&mut file, &mut buf).map_err(|e| stamp_error(&self.path(), e))?;
        Ok(std::str::from_utf8(&buf[..len]).map_or_else(|_| Stamp::default(), Stamp::parse))
    }

    /// Replaces it with `stamp` (whole: a reader never sees half).
    pub(crate) fn write(&self, stamp: &Stamp) -> Result<(), TipcError> {
        let text = stamp.render();
        let staged = Staged::write(&self.dir, &self.name, text.as_bytes(), 0o600)
            .map_err(|(_, e)| stamp_error(&self.path(), e))?;
        staged.commit().map_err(|e| stamp_error(&self.path(), e))
    }

    fn path(&self) -> PathBuf {
        self.at.join(&self.name)
    }
}

/// Makes `path` (mode 0700) in its parent, reached as the stamp directory is.
fn make_dir(path: &Path) -> Result<(), TipcError> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().unwrap_or_default();
    let at = dirpath::open_dir(parent, Ancestors::Trusted).map_err(TipcError::StampPath)?;
    match nix::sys::stat::mkdirat(&at, name, Mode::S_IRWXU) {
        // Another run made it meanwhile: as good.
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(stamp_error(path, e.into())),
    }
}

fn stamp_error(path: &Path, why: io::Error) -> TipcError {
    TipcError::Stamp {
        path: path.to_path_buf(),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn a_stamp_reads_back_what_was_written_and_nothing_from_junk() {
        let full = Stamp {
            key_id: Some("0123456789abcdef".into()),
            rekeying: Some(60),
        };
        assert_eq!(full.render(), "key 0123456789abcdef\nrekeying 60\n");
        assert_eq!(Stamp::parse(&full.render()), full);
        let key_only = Stamp {
            key_id: Some("0123456789abcdef".into()),
            rekeying: None,
        };
        assert_eq!(Stamp::parse(&key_only.render()), key_only);
        for junk in [
            "key short\n",
            "key 0123456789abcdef\nmore\n",
            "rekeying x\n",
        ] {
            assert_eq!(Stamp::parse(junk).key_id, None, "{junk:?}");
        }
        assert_eq!(Stamp::parse(""), Stamp::default());
    }

    const FULL: &str = "key 0123456789abcdef\nrekeying 60\n";

    /// A directory of the test's own, with the stamp directory `tofurkey`
    /// not made yet.
    fn scratch() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let at = t.path().join("tofurkey");
        (t, at)
    }

    /// The directory is made (0700) when missing; a stamp written is read
    /// back; none is nothing known.
    #[test]
    fn a_stamp_is_made_written_and_read_back() {
        let (_t, at) = scratch();
        let file = StampFile::open_in(&at, 0x2a).unwrap();
        assert_eq!(fs::metadata(&at).unwrap().mode() & 0o7777, 0o700);
        assert_eq!(file.read().unwrap(), Stamp::default());
        file.write(&Stamp::parse(FULL)).unwrap();
        let path = at.join("tipc-000000000000002a");
        assert_eq!(fs::read_to_string(&path).unwrap(), FULL);
        assert_eq!(file.read().unwrap(), Stamp::parse(FULL));
        assert_eq!(file.read().unwrap().rekeying, Some(60));
    }

    /// A missing parent is an error, not made: only the stamp directory
    /// itself is tofurkey's to make.
    #[test]
    fn only_the_stamp_directory_itself_is_made() {
        let (t, _) = scratch();
        let deeper = t.path().join("missing").join("tofurkey");
        assert!(matches!(
            StampFile::open_in(&deeper, 1),
            Err(TipcError::StampPath(_))
        ));
        assert!(!t.path().join("missing").exists());
    }

    /// What is not a stamp of ours reads as nothing known (the run then
    /// sets everything): a directory, another user's file. A link is not
    /// followed. An error names the stamp's path.
    #[test]
    fn what_is_not_ours_is_nothing_known() {
        let (t, at) = scratch();
        let file = StampFile::open_in(&at, 1).unwrap();
        let path = at.join("tipc-0000000000000001");
        fs::create_dir(&path).unwrap();
        assert_eq!(file.read().unwrap(), Stamp::default());
        let failed = file.write(&Stamp::parse(FULL)).unwrap_err().to_string();
        assert!(failed.contains(&path.display().to_string()), "{failed}");
        fs::remove_dir(&path).unwrap();

        fs::write(&path, FULL).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        assert_eq!(file.read().unwrap(), Stamp::default());
        fs::remove_file(&path).unwrap();

        let elsewhere = t.path().join("elsewhere");
        fs::write(&elsewhere, FULL).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(file.read().is_err(), "a link is not read through");
    }
}
