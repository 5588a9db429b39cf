//! Where the main key comes from: a key file (`-k`), the systemd credential
//! `tofurkey.key`, or the local autokey, made on first use.
//!
//! Opening a key never blocks and never has side effects: the path is checked
//! to be a regular file before it is opened (a FIFO or a tape device can
//! block or act on open), opened `O_NONBLOCK`, and checked again on the fd.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::cli::{DEFAULT_AUTOKEY, KeySpec};
use crate::error::Error;
use crate::fileio;
use crate::keys::{MAIN_KEY_LEN, MainKey};

/// The credential name systemd units pass the main key under.
pub const CREDENTIAL: &str = "tofurkey.key";

/// A resolved main key source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A key file given with `-k`.
    File(PathBuf),
    /// `$CREDENTIALS_DIRECTORY/tofurkey.key`.
    Credential(PathBuf),
    /// A local autokey (made if missing or unusable).
    Autokey(PathBuf),
}

impl Source {
    /// Picks the source: `-k`; else, unless `-a` was given, the credential
    /// when `credentials_dir` (the value of `$CREDENTIALS_DIRECTORY`) holds
    /// one; else the autokey.
    pub fn choose(spec: &KeySpec, credentials_dir: Option<OsString>) -> Source {
        match spec {
            KeySpec::File(p) => Source::File(p.clone()),
            KeySpec::Autokey(p) => Source::Autokey(p.clone()),
            KeySpec::Default => {
                let cred = credentials_dir
                    .filter(|d| !d.is_empty())
                    .map(|d| Path::new(&d).join(CREDENTIAL));
                match cred {
                    // Present in any form (even broken): use it, and let a
                    // bad one fail loudly rather than fall back silently to
                    // a host-local key.
                    Some(p) if fs::symlink_metadata(&p).is_ok() => Source::Credential(p),
                    _ => Source::Autokey(PathBuf::from(DEFAULT_AUTOKEY)),
                }
            }
        }
    }

    /// What the log calls it: a path, or the credential's name. Never a byte
    /// of the key.
    pub fn describe(&self) -> String {
        match self {
            Source::File(p) => format!("key file {}", p.display()),
            Source::Credential(_) => format!("credential {CREDENTIAL}"),
            Source::Autokey(p) => format!("autokey {}", p.display()),
        }
    }
}

/// The main key and whether this run just created it (a fresh autokey).
pub struct Loaded {
    /// The key.
    pub key: MainKey,
    /// True when a new autokey was made and stored by this run.
    pub created: bool,
}

/// Loads the main key from `source`, creating the autokey if `create` allows
/// it (normal runs) and it is missing or unusable.
pub fn load(source: &Source, create: bool) -> Result<Loaded, Error> {
    let existing = |what, path| {
        read_key(what, path).map(|key| Loaded {
            key,
            created: false,
        })
    };
    match source {
        Source::File(p) => existing("main key file", p),
        Source::Credential(p) => existing("credential", p),
        Source::Autokey(p) if !create => existing("autokey", p),
        Source::Autokey(p) => autokey(p),
    }
}

/// Reads exactly the first 32 bytes of a regular file.
pub fn read_key(what: &'static str, path: &Path) -> Result<MainKey, Error> {
    let not_file = |kind| Error::KeyNotFile {
        what,
        path: path.to_path_buf(),
        kind,
    };
    let read_err = |why| Error::KeyRead {
        what,
        path: path.to_path_buf(),
        why,
    };
    let meta = fs::metadata(path).map_err(read_err)?;
    if let Some(kind) = not_regular(&meta.file_type()) {
        return Err(not_file(kind));
    }
    let mut file = fileio::open_read(path).map_err(read_err)?;
    // The path may have been swapped between stat and open: check the fd.
    let meta = file.metadata().map_err(read_err)?;
    if let Some(kind) = not_regular(&meta.file_type()) {
        return Err(not_file(kind));
    }
    let mut buf = Zeroizing::new([0u8; MAIN_KEY_LEN]);
    let len = fileio::read_up_to(&mut file, &mut buf[..]).map_err(read_err)?;
    if len < MAIN_KEY_LEN {
        return Err(Error::KeyShort {
            what,
            path: path.to_path_buf(),
            len,
        });
    }
    Ok(MainKey::new(*buf))
}

/// Names what a non-regular file is, for the error message.
fn not_regular(t: &fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("directory")
    } else if t.is_fifo() {
        Some("FIFO")
    } else if t.is_char_device() || t.is_block_device() {
        Some("device")
    } else if t.is_socket() {
        Some("socket")
    } else {
        Some("special file")
    }
}

/// Reuses a readable 32-byte autokey, or makes one.
///
/// Concurrent first runs (the timer and an admin at once) must end with one
/// key on disk that every run used: the whole read-or-create step holds an
/// exclusive `flock` on the autokey's directory, so the second run waits and
/// then reads what the first stored. A new key is written to a temporary
/// file, synced, and renamed into place, so a crash at any moment leaves no
/// key or a complete one, never a partial one.
fn autokey(path: &Path) -> Result<Loaded, Error> {
    let fail = |step, why| Error::Autokey {
        path: path.to_path_buf(),
        step,
        why,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dir_fd = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .map_err(|e| fail("open directory", e))?;
    // SAFETY: flock on a valid fd we own; it has no memory effects.
    if unsafe { libc::flock(dir_fd.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(fail("lock directory", io::Error::last_os_error()));
    }
    // The lock is released when dir_fd is closed, on every return path.

    match read_key("autokey", path) {
        Ok(key) => {
            return Ok(Loaded {
                key,
                created: false,
            });
        }
        // Missing, or short (e.g. cut off by a crash of 1.3.4, which wrote
        // it in place): replace it. Anything else (a directory, no
        // permission) is the admin's to fix, not ours to overwrite.
        Err(Error::KeyRead { why, .. }) if why.kind() == io::ErrorKind::NotFound => {}
        Err(Error::KeyShort { .. }) => {}
        Err(e) => return Err(e),
    }

    let mut bytes = Zeroizing::new([0u8; MAIN_KEY_LEN]);
    fill_random(&mut bytes[..]).map_err(|e| fail("get random bytes", e))?;

    let mut tmp_name = OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let stored = store(&tmp, &bytes[..])
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| ("rename into place", e)))
        .and_then(|()| dir_fd.sync_all().map_err(|e| ("sync directory", e)));
    if let Err((step, why)) = stored {
        // Best effort: leave no partial secret behind.
        let _ = fs::remove_file(&tmp);
        return Err(fail(step, why));
    }
    Ok(Loaded {
        key: MainKey::new(*bytes),
        created: true,
    })
}

/// Writes `bytes` to a fresh 0600 file at `tmp` and syncs it.
fn store(tmp: &Path, bytes: &[u8]) -> Result<(), (&'static str, io::Error)> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(tmp)
        .map_err(|e| ("create temporary file", e))?;
    // A leftover from a killed run keeps its old mode: set it again.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| ("set mode 0600", e))?;
    file.write_all(bytes).map_err(|e| ("write", e))?;
    file.sync_all().map_err(|e| ("sync", e))
}

/// Fills `buf` from the kernel's CSPRNG (blocks only until it is seeded, at
/// early boot).
fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the pointer and length describe `rest`, which we own.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_order() {
        let k = KeySpec::File("/k".into());
        let a = KeySpec::Autokey("/a".into());
        let dir = std::env::temp_dir().join(format!("tofurkey-choose-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let with = Some(dir.clone().into_os_string());
        // No credential file yet: autokey.
        assert_eq!(
            Source::choose(&KeySpec::Default, with.clone()),
            Source::Autokey(DEFAULT_AUTOKEY.into())
        );
        fs::write(dir.join(CREDENTIAL), [1u8; 32]).unwrap();
        assert_eq!(Source::choose(&k, with.clone()), Source::File("/k".into()));
        assert_eq!(
            Source::choose(&a, with.clone()),
            Source::Autokey("/a".into())
        );
        assert_eq!(
            Source::choose(&KeySpec::Default, with),
            Source::Credential(dir.join(CREDENTIAL))
        );
        assert_eq!(
            Source::choose(&KeySpec::Default, None),
            Source::Autokey(DEFAULT_AUTOKEY.into())
        );
        assert_eq!(
            Source::describe(&Source::Credential(dir.join(CREDENTIAL))),
            "credential tofurkey.key"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
