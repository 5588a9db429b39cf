//! HAProxy's ticket keys: the file its `tls-ticket-keys` loads, and the
//! running HAProxy, brought to the same keys through its admin socket.
//!
//! The file holds the set base64, one key per line, oldest first
//! (previous, current, next): HAProxy encrypts with the penultimate line.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::keydir::{DirError, KeyDir};
use crate::tickets::TicketSet;

/// HAProxy's ticket key file, its directory checked.
pub struct KeyFile {
    dir: KeyDir,
    name: String,
    path: PathBuf,
}

impl KeyFile {
    /// Checks the file's directory and the file's name; writes nothing.
    pub fn open(path: &Path) -> Result<KeyFile, DirError> {
        let name = match path.file_name().and_then(|n| n.to_str()) {
            Some(n) => n.to_string(),
            None => {
                return Err(DirError::NotFile {
                    path: path.to_path_buf(),
                    kind: crate::fileio::Kind::Directory,
                });
            }
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let dir = KeyDir::open(dir)?;
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
    pub fn read(&self) -> Result<Option<Zeroizing<Vec<u8>>>, DirError> {
        self.dir.read(&self.name)
    }
}
