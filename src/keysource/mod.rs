//! Where the main key comes from: a key file (`-k`), standard input
//! (`-k -`), the systemd credential `tofurkey.key`, or the local autokey,
//! made on first use; and a rollover's next main key: a key file
//! (`--next-key`) or the credential `tofurkey.key.next`.
//!
//! Loading is two steps, so that signals are held only while key bytes are
//! in memory: [`open`] finds, opens and checks the source and reads nothing
//! (it never blocks, save a bounded wait for a pipe); [`Opened::read`] reads
//! the bytes, or makes and stores a new autokey.
//!
//! Here: choosing the source, the key file (or credential), and the trust
//! rules; standard input and its deadline in `stdin.rs`, the autokey's
//! making and storing in `autokey.rs`, a key of text (hex, base64) and its
//! warning in `text.rs`, [`KeyError`] in `error.rs`.
//!
//! What is trusted: a key file or credential owned by root or the running
//! user, writable by no one else, and reached through no link another user
//! owns (who could point it at another file). Readable by others, it is a
//! warning, or a refusal when ticket keys are derived from it (whoever
//! reads it could decrypt the TLS sessions they protect). An autokey must
//! be the running user's with no group or other permission. Anything else
//! could have been written, chosen, or read, by another local user.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::fileio::{self, ANY_OTHERS, Kind, WRITABLE_BY_OTHERS, trusted_owner};
use crate::keys::{MAIN_KEY_LEN, MainKey};
use crate::options::{KeySpec, NextKeySpec};
use crate::secret::Secret;

mod autokey;
mod credstore;
mod error;
mod resolve;
mod stdin;
mod text;

pub use credstore::{CREDSTORES, ENCRYPTED_CREDENTIAL, ENCRYPTED_STORE};
pub use error::{AutokeyStep, KeyError};
pub use stdin::PIPE_WAIT;

/// The credential name systemd units pass the main key under.
pub const CREDENTIAL: &str = "tofurkey.key";
/// And the next main key of a scheduled rollover.
pub const NEXT_CREDENTIAL: &str = "tofurkey.key.next";
/// Where the autokey lives unless `-a` says otherwise: tmpfs, so a reboot
/// forgets it, as 1.3.4 (built with rundir=/run).
pub const DEFAULT_AUTOKEY: &str = "/run/tofurkey.autokey";

/// Permission bits that let group or others read a file.
const READABLE_BY_OTHERS: u32 = 0o044;
/// The bit that lets others read a credential. Its group bits are not
/// counted: systemd makes a credential 0400 and, for a unit that runs as
/// another user, adds an ACL entry for that user alone, which `stat` shows
/// as the group bits (0440); the directory is the unit's own.
const CREDENTIAL_READABLE_BY_OTHERS: u32 = 0o004;
// Writable or readable by others are both kinds of "any group or other".
const _: () = assert!((WRITABLE_BY_OTHERS | READABLE_BY_OTHERS) & !ANY_OTHERS == 0);

/// A resolved main key source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A key file given with `-k`.
    File(PathBuf),
    /// Standard input (`-k -` or `-k /dev/stdin`): a pipe or a file.
    Stdin,
    /// `$CREDENTIALS_DIRECTORY/tofurkey.key`.
    Credential(PathBuf),
    /// A local autokey (made if missing).
    Autokey(PathBuf),
}

impl Source {
    /// Picks the source: `-k`; else, unless `-a` was given, the credential
    /// when `$CREDENTIALS_DIRECTORY` (its value is `credentials_dir`) holds
    /// one; else the autokey.
    ///
    /// A credential present in any form (even a broken link) is chosen, so
    /// that a bad one fails loudly; and a variable that is set but names no
    /// usable directory is an error. Only a usable directory without
    /// `tofurkey.key` falls back to the host-local autokey.
    pub fn choose(spec: &KeySpec, credentials_dir: Option<OsString>) -> Result<Source, KeyError> {
        let dir = match (spec, credentials_dir) {
            (KeySpec::File(p), _) => return Ok(Source::File(p.clone())),
            (KeySpec::Stdin, _) => return Ok(Source::Stdin),
            (KeySpec::Autokey(p), _) => return Ok(Source::Autokey(p.clone())),
            (KeySpec::Default, None) => return credstore::service_key(),
            (KeySpec::Default, Some(dir)) => PathBuf::from(dir),
        };
        let unusable = |why| KeyError::CredentialsDir {
            path: dir.clone(),
            why,
        };
        // It must be there: a missing one would look like "no credential".
        fs::metadata(&dir).map_err(unusable)?;
        let cred = dir.join(CREDENTIAL);
        match fs::symlink_metadata(&cred) {
            Ok(_) => Ok(Source::Credential(cred)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Ok(Source::Autokey(DEFAULT_AUTOKEY.into()))
            }
            // Not a directory (ENOTDIR), or unsearchable: whether a
            // credential is there is unknown.
            Err(e) => Err(unusable(e)),
        }
    }

    /// Picks the next main key's source: `--next-key`; else the credential
    /// `tofurkey.key.next`, in `$CREDENTIALS_DIRECTORY` (its value is
    /// `credentials_dir`) for the service, or where systemd would load it
    /// from for a run outside it. None there is an error: T was set.
    pub fn choose_next(
        spec: &NextKeySpec,
        credentials_dir: Option<OsString>,
    ) -> Result<Source, KeyError> {
        let dir = match (spec, credentials_dir) {
            (NextKeySpec::File(p), _) => return Ok(Source::File(p.clone())),
            (NextKeySpec::Credential, None) => {
                return credstore::stored(NEXT_CREDENTIAL)?.ok_or(KeyError::NoNextKey);
            }
            (NextKeySpec::Credential, Some(dir)) => PathBuf::from(dir),
        };
        let cred = dir.join(NEXT_CREDENTIAL);
        match fs::symlink_metadata(&cred) {
            Ok(_) => Ok(Source::Credential(cred)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(KeyError::NoNextKey),
            Err(why) => Err(KeyError::CredentialsDir { path: dir, why }),
        }
    }

    /// What the log calls it: a path, or the credential's name. Never a byte
    /// of the key.
    pub fn label(&self) -> String {
        let (what, path) = match self {
            Source::File(p) => ("key file ", p.to_string_lossy()),
            Source::Stdin => ("standard input", "".into()),
            Source::Credential(p) => ("credential ", error::credential_name(p).into()),
            Source::Autokey(p) => ("autokey ", p.to_string_lossy()),
        };
        // Every run makes it: one allocation, no formatting.
        let mut label = String::with_capacity(what.len() + path.len());
        label.push_str(what);
        label.push_str(&path);
        label
    }

    /// What an error calls it: the kind of source and its full path.
    pub(crate) fn name(&self) -> String {
        match self {
            Source::File(p) => format!("main key file {}", p.display()),
            Source::Stdin => "standard input".into(),
            Source::Credential(p) => format!("credential {}", p.display()),
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
    /// What the admin should hear of the key's bytes (a key of text), to
    /// be logged once signals are released. Never a byte of the key.
    pub warnings: Vec<String>,
}

/// What a key is opened for, which decides what is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Purpose {
    /// A missing autokey is prepared for (normal runs); without, it is an
    /// error (`--check`).
    pub create: bool,
    /// Ticket keys are derived from it: a key file others can read is
    /// refused, not a warning, for they could decrypt the TLS sessions
    /// those keys protect. (For TCP Fast Open alone, a warning: 1.3.4
    /// used such keys.)
    pub tickets: bool,
}

impl Purpose {
    /// A key-setting run's: a missing autokey is made; `tickets` when
    /// ticket keys are derived from the key.
    pub fn set(tickets: bool) -> Purpose {
        Purpose {
            create: true,
            tickets,
        }
    }

    /// `--check`'s, which makes nothing and refuses what a run refuses.
    pub fn check(tickets: bool) -> Purpose {
        Purpose {
            create: false,
            tickets,
        }
    }
}

/// A key source opened and checked, not read yet.
pub struct Opened {
    source: Source,
    input: Input,
}

enum Input {
    /// A regular file: a key file, a credential, standard input redirected
    /// from a file, or an existing autokey.
    File(File),
    /// Standard input as a pipe, to be read before the deadline.
    Pipe(stdin::Pipe),
    /// No autokey yet: one is to be made.
    NewAutokey(autokey::NewAutokey),
}

/// Opens and checks `source` for `purpose`, reading none of its bytes.
/// Returns the warnings the admin should see (a key file that others may
/// read, when no ticket key is derived from it).
pub fn open(source: &Source, purpose: Purpose) -> Result<(Opened, Vec<String>), KeyError> {
    let mut warnings = Vec::new();
    let input = match source {
        Source::File(p) | Source::Credential(p) => {
            Input::File(open_key_file(source, p, purpose, &mut warnings)?)
        }
        Source::Stdin => stdin::open(purpose, &mut warnings)?,
        Source::Autokey(p) => autokey::open(source, p, purpose.create)?,
    };
    let opened = Opened {
        source: source.clone(),
        input,
    };
    Ok((opened, warnings))
}

impl Opened {
    /// Reads the key (at most 32 bytes: the first 32 count), or makes,
    /// stores and returns a new autokey. A key of 32 zero bytes is refused;
    /// a key of text is used, with a warning (`text.rs`).
    pub fn read(self) -> Result<Loaded, KeyError> {
        let source = self.source;
        let read_err = |why| KeyError::Read {
            source: source.clone(),
            why,
        };
        let mut buf = Secret::<MAIN_KEY_LEN>::zeroed();
        let len = match self.input {
            Input::File(mut file) => {
                fileio::read_up_to(&mut file, &mut buf[..]).map_err(read_err)?
            }
            Input::Pipe(pipe) => pipe.read(&mut buf[..])?,
            Input::NewAutokey(new) => return new.store(&source),
        };
        if len < MAIN_KEY_LEN {
            return Err(KeyError::Short { source, len });
        }
        if buf.iter().all(|&b| b == 0) {
            return Err(KeyError::Zero { source });
        }
        // Made the usual wrong way (hex, base64): used all the same, as
        // 1.3.4 used it, with a warning. An autokey is ours, made binary.
        let mut warnings = Vec::new();
        if !matches!(source, Source::Autokey(_)) && text::is_text(&buf) {
            warnings.push(text::warning(&source));
        }
        Ok(Loaded {
            key: MainKey::new(*buf),
            created: false,
            warnings,
        })
    }
}

/// A key file or credential: a regular file that no other user could have
/// written or chosen. Its path is followed link by link first: a link
/// another user owns is refused, and the file opened must be the one the
/// links led to (a link swapped in between is caught).
fn open_key_file(
    source: &Source,
    path: &Path,
    purpose: Purpose,
    warnings: &mut Vec<String>,
) -> Result<File, KeyError> {
    let read_err = |why| KeyError::Read {
        source: source.clone(),
        why,
    };
    let resolved = resolve::resolve(source, path)?;
    let file = fileio::open_regular(path, false).map_err(|e| match e {
        fileio::OpenError::Io(why) => read_err(why),
        fileio::OpenError::NotRegular(kind) => KeyError::NotFile {
            source: source.clone(),
            kind,
        },
    })?;
    let meta = file.metadata().map_err(read_err)?;
    if (meta.dev(), meta.ino()) != resolved.id {
        return Err(KeyError::Replaced {
            source: source.clone(),
        });
    }
    trust_key_file(source, &meta, Some(&resolved.real), purpose, warnings)?;
    Ok(file)
}

/// ssh's rule for private keys, applied to the main key: the owner is root
/// or the running user, and no one else may write it. Others reading it is
/// a warning (they could compute every key), or, when ticket keys come
/// from it, a refusal. `real` is the file itself, which the advice names
/// (not a link to it); `None` for standard input, named by its fd.
fn trust_key_file(
    source: &Source,
    meta: &fs::Metadata,
    real: Option<&Path>,
    purpose: Purpose,
    warnings: &mut Vec<String>,
) -> Result<(), KeyError> {
    let (owner, mode) = (meta.uid(), meta.mode() & 0o7777);
    if !trusted_owner(owner) {
        return Err(KeyError::Owner {
            source: source.clone(),
            owner,
            user: euid(),
        });
    }
    if mode & WRITABLE_BY_OTHERS != 0 {
        return Err(KeyError::Writable {
            source: source.clone(),
            mode,
        });
    }
    let readers = match source {
        Source::Credential(_) => CREDENTIAL_READABLE_BY_OTHERS,
        _ => READABLE_BY_OTHERS,
    };
    if mode & readers == 0 {
        return Ok(());
    }
    let real = match real {
        Some(p) => Some(p.to_path_buf()),
        // Standard input redirected from a file: the kernel's name for it.
        None => fs::read_link("/proc/self/fd/0").ok(),
    };
    if purpose.tickets {
        return Err(KeyError::Readable {
            source: source.clone(),
            mode,
            real,
        });
    }
    let file = real.map_or("FILE".into(), |p| p.display().to_string());
    warnings.push(format!(
        "{} has mode {mode:04o}: group or others can read the main key and compute every \
         key; 'chmod go= {file}'",
        source.name()
    ));
    Ok(())
}

/// An autokey's rule, checked before it is opened and again on the fd: a
/// regular file (`mode` is `st_mode`) of the running user's with no group
/// or other permission.
fn trust_autokey(source: &Source, path: &Path, mode: u32, owner: u32) -> Result<(), KeyError> {
    if let Some(kind) = Kind::of_mode(mode) {
        return Err(KeyError::NotFile {
            source: source.clone(),
            kind,
        });
    }
    let (mode, user) = (mode & 0o7777, euid());
    if owner != user || mode & ANY_OTHERS != 0 {
        return Err(KeyError::AutokeyForeign {
            path: path.to_path_buf(),
            owner,
            mode,
            user,
        });
    }
    Ok(())
}

/// The effective uid: the user files are checked against.
fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

#[cfg(test)]
mod tests;
