//! HAProxy's ticket key file, the one its `tls-ticket-keys` loads: the set
//! base64, one key per line, oldest first (previous, current, next);
//! HAProxy encrypts with the penultimate line.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::fileio::{dir_of, file_name};
use crate::keydir::{DirError, Held, KeyDir};
use crate::tickets::TicketSet;

/// HAProxy's ticket key file, its directory checked.
pub struct KeyFile {
    dir: Rc<KeyDir>,
    name: String,
    path: PathBuf,
}

impl KeyFile {
    /// Checks the file's directory and the file's name; writes nothing.
    /// The directory is `shared`, already checked, when `path` names it
    /// as it is (the README's layout puts nginx's files beside it): one
    /// check, one fd.
    pub fn open(path: &Path, shared: Option<&Rc<KeyDir>>) -> Result<KeyFile, DirError> {
        let name = file_name(path)
            .ok_or_else(|| DirError::NotFilePath {
                path: path.to_path_buf(),
            })?
            .to_string();
        let dir = match (dir_of(path), shared) {
            (dir, Some(shared)) if dir == shared.path() => Rc::clone(shared),
            (dir, _) => Rc::new(KeyDir::open(dir)?),
        };
        dir.check(&name)?;
        Ok(KeyFile {
            dir,
            name,
            path: path.to_path_buf(),
        })
    }

    /// The file's path as given: HAProxy's name for the keys it loaded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Puts `set` in place (if the file does not hold it already); returns
    /// whether it was replaced.
    pub fn write(&self, set: &TicketSet) -> Result<bool, DirError> {
        let text = set.haproxy_file();
        Ok(self.dir.replace(&[(&self.name, &text[..])])? > 0)
    }

    /// Reads the file, for `--check`; `None` if it is missing.
    pub fn read(&self) -> Result<Option<Held>, DirError> {
        self.dir.read(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::{Interval, UnixTime};
    use crate::keys::MainKey;
    use crate::tickets::Schedule;

    /// In nginx's directory the file shares its checked handle (one check,
    /// one fd); it is replaced when its set changes, and only then.
    #[test]
    fn shares_nginx_directory_and_replaces_only_a_new_set() {
        // Key files go on tmpfs only.
        let t = tempfile::tempdir_in("/dev/shm").unwrap();
        let shared = Rc::new(KeyDir::open(t.path()).unwrap());
        let file = KeyFile::open(&t.path().join("haproxy.keys"), Some(&shared)).unwrap();
        assert_eq!(Rc::strong_count(&shared), 2, "the same handle");
        let set = |hour: u64| {
            let at = UnixTime::new(1_800_000_000 + hour * 3600).unwrap();
            TicketSet::derive(
                &MainKey::new([3; 32]),
                Schedule::at(at, Interval::new(3600).unwrap()),
            )
        };
        assert!(file.write(&set(0)).unwrap());
        assert!(!file.write(&set(0)).unwrap());
        assert!(file.write(&set(1)).unwrap());
    }
}
