//! Why no main key could be had: [`KeyError`], each variant naming its
//! source (never a byte of it), with the fix an admin should try
//! ([`KeyError::fix`]); `crate::error` wraps it.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::PathBuf;

use super::credstore;
use super::stdin::PIPE_WAIT;
use super::{NEXT_CREDENTIAL, Source};
use crate::fileio::NotRegularFile;
use crate::fileio::{ANY_OTHERS, Kind, os_error};
use crate::keydir::KEY_FILE_MODE;
use crate::keys::MAIN_KEY_LEN;

/// The command to make a main key, as the fixes name it.
pub(super) const MAKE_KEY: &str = "make a key with '(umask 077; head -c 32 /dev/random > FILE)'";

/// A credential's fix when its bytes are wrong: the cluster's key, not a
/// new one, which would match no other host's.
pub(super) const COPY_CLUSTER_KEY: &str = "put the cluster's main key there, the same 32 bytes as on its \
                                other hosts (a new key would match none of them)";

/// What a message about the key's bytes calls its source: the source's
/// name, but for a credential the admin's file that systemd copied, not
/// the copy in `$CREDENTIALS_DIRECTORY` (which a fix would not reach).
pub(super) fn content_name(source: &Source) -> String {
    match source {
        Source::Credential(p) if !credstore::in_a_store(p) => {
            let name = credential_name(p);
            let (plain, encrypted) = credstore::admin_files(&name);
            format!(
                "credential {name} (from {} or {})",
                plain.display(),
                encrypted.display()
            )
        }
        _ => source.name(),
    }
}

/// A credential's name: its file's.
pub(super) fn credential_name(path: &std::path::Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// Why no main key could be had. Each names the source, never its bytes.
#[derive(Debug)]
pub enum KeyError {
    /// It could not be opened or read.
    Read {
        /// Which source.
        source: Source,
        /// The OS error.
        why: io::Error,
    },
    /// Not a regular file (or, for standard input, a pipe).
    NotFile {
        /// Which source.
        source: Source,
        /// What it is instead.
        kind: Kind,
    },
    /// Fewer than 32 bytes.
    Short {
        /// Which source.
        source: Source,
        /// How many bytes it had.
        len: usize,
    },
    /// 32 zero bytes: a placeholder, not a secret.
    Zero {
        /// Which source.
        source: Source,
    },
    /// A key file owned by another user, who could have written it.
    Owner {
        /// Which source.
        source: Source,
        /// Its owner's uid.
        owner: u32,
        /// The running user's uid.
        user: u32,
    },
    /// A key file that group or others may write.
    Writable {
        /// Which source.
        source: Source,
        /// Its permission bits.
        mode: u32,
    },
    /// A key path through a link another user owns, who could point it
    /// at another file.
    Link {
        /// Which source.
        source: Source,
        /// The link.
        link: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// The running user's uid.
        user: u32,
    },
    /// The file opened is not the one the path led to a moment before:
    /// something replaced it, or a link on its path, in between.
    Replaced {
        /// Which source.
        source: Source,
    },
    /// A key file that group or others may read, refused because ticket
    /// keys are derived from it.
    Readable {
        /// Which source.
        source: Source,
        /// Its permission bits.
        mode: u32,
        /// The file itself (not a link to it), when known.
        real: Option<PathBuf>,
    },
    /// An existing autokey that is not the running user's alone.
    AutokeyForeign {
        /// Which file.
        path: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// Its permission bits.
        mode: u32,
        /// The running user's uid.
        user: u32,
    },
    /// Standard input gave fewer than 32 bytes within [`PIPE_WAIT`].
    StdinTimeout {
        /// How many bytes came.
        len: usize,
    },
    /// `$CREDENTIALS_DIRECTORY` is set but is not a usable directory.
    CredentialsDir {
        /// Its value.
        path: PathBuf,
        /// Why it cannot be used.
        why: io::Error,
    },
    /// A run outside the service, given no key, where the service's key
    /// is one only systemd can read (encrypted), or where whether it has
    /// one cannot be told: judging another key would mislead.
    ServiceKey {
        /// The credential that cannot be read.
        path: PathBuf,
        /// Encrypted (`None`), or why it cannot be looked at.
        why: Option<io::Error>,
    },
    /// A rollover's T without `--next-key`, and no credential
    /// `tofurkey.key.next` where the run looked.
    NoNextKey,
    /// A new autokey could not be made or stored.
    Autokey {
        /// Which file.
        path: PathBuf,
        /// The step that failed.
        step: AutokeyStep,
        /// The OS error.
        why: io::Error,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Read { source, why } => {
                write!(f, "cannot read {}: {}", source.name(), os_error(why))
            }
            KeyError::NotFile {
                source: Source::Stdin,
                kind,
            } => write!(f, "{} or a pipe", NotRegularFile("standard input", *kind)),
            KeyError::NotFile { source, kind } => {
                write!(f, "{}", NotRegularFile(source.name(), *kind))
            }
            KeyError::Short {
                source: Source::Autokey(path),
                len,
            } => write!(
                f,
                "autokey {} holds {len} bytes, needs {MAIN_KEY_LEN}",
                path.display()
            ),
            KeyError::Short { source, len } => write!(
                f,
                "{} holds {len} bytes, needs at least {MAIN_KEY_LEN}",
                content_name(source)
            ),
            KeyError::Zero { source } => write!(
                f,
                "{} is {MAIN_KEY_LEN} zero bytes, a placeholder, not a secret",
                content_name(source)
            ),
            KeyError::Owner {
                source,
                owner,
                user,
            } => write!(
                f,
                "{} is owned by uid {owner}, neither root nor the running user (uid {user}), \
                 who could have written it",
                source.name()
            ),
            KeyError::Writable { source, mode } => write!(
                f,
                "{} has mode {mode:04o}: group or others could have written it",
                source.name()
            ),
            KeyError::Link {
                source,
                link,
                owner,
                user,
            } => write!(
                f,
                "{} is reached through the link {}, owned by uid {owner}, neither root nor the \
                 running user (uid {user}), who could point it at another file",
                source.name(),
                link.display()
            ),
            KeyError::Replaced { source } => write!(
                f,
                "{} was replaced while it was being opened",
                source.name()
            ),
            KeyError::Readable { source, mode, .. } => write!(
                f,
                "{} has mode {mode:04o}: group or others can read the main key, and with it \
                 decrypt the TLS sessions its ticket keys protect",
                source.name()
            ),
            KeyError::AutokeyForeign {
                path,
                owner,
                mode,
                user,
            } => write!(
                f,
                "autokey {} has owner uid {owner} and mode {mode:04o}, but must belong to the \
                 running user (uid {user}) with mode {KEY_FILE_MODE:04o}: someone else may know it",
                path.display()
            ),
            KeyError::StdinTimeout { len } => write!(
                f,
                "standard input gave {len} of {MAIN_KEY_LEN} bytes in {} s",
                PIPE_WAIT.as_secs()
            ),
            KeyError::CredentialsDir { path, why } => write!(
                f,
                "CREDENTIALS_DIRECTORY '{}' is not a usable directory: {}",
                path.display(),
                os_error(why)
            ),
            KeyError::ServiceKey { path, why: None } => write!(
                f,
                "the service's main key {} is encrypted: only systemd can read it",
                path.display()
            ),
            KeyError::ServiceKey {
                path,
                why: Some(why),
            } => write!(
                f,
                "cannot tell whether the service's main key {} exists: {}",
                path.display(),
                os_error(why)
            ),
            KeyError::NoNextKey => write!(
                f,
                "no next main key: --next-key-at (NEXT_KEY_AT) is set, but neither --next-key \
                 (NEXT_KEY) nor the credential {NEXT_CREDENTIAL}"
            ),
            KeyError::Autokey { path, step, why } => write!(
                f,
                "cannot create autokey {} ({step}): {}",
                path.display(),
                os_error(why)
            ),
        }
    }
}

impl KeyError {
    /// What the admin should do about it (printed after the message).
    pub(crate) fn fix(&self) -> Option<Cow<'static, str>> {
        let fix = match self {
            KeyError::Read { .. } => "check the path and its permissions",
            KeyError::NotFile {
                source: Source::Stdin,
                ..
            } => "pipe the key in ('tofurkey -k - < FILE')",
            KeyError::StdinTimeout { .. } => "pipe the whole key in ('tofurkey -k - < FILE')",
            // An autokey is ours to make: whatever else is there goes.
            KeyError::NotFile {
                source: Source::Autokey(_),
                ..
            }
            | KeyError::Short {
                source: Source::Autokey(_),
                ..
            }
            | KeyError::Zero {
                source: Source::Autokey(_),
            } => "remove it, and the next run makes a new one",
            KeyError::NotFile { .. } => "point it at a file of 32 bytes",
            KeyError::Short {
                source: Source::Credential(_),
                ..
            }
            | KeyError::Zero {
                source: Source::Credential(_),
            } => COPY_CLUSTER_KEY,
            KeyError::Short { .. } | KeyError::Zero { .. } => MAKE_KEY,
            KeyError::Owner { .. } => "make root its owner ('chown root: FILE')",
            KeyError::Writable { .. } => "'chmod go-w FILE', and check its contents",
            KeyError::Link { .. } => {
                "name the key file by its own path, or by links only root or you own"
            }
            KeyError::Replaced { .. } => "run again, and check what else changes that path",
            // The advice names the file itself, not a link to it.
            KeyError::Readable {
                real: Some(real), ..
            } => return Some(format!("'chmod go= {}'", real.display()).into()),
            KeyError::Readable { real: None, .. } => "'chmod go= FILE'",
            // Root's own, as the service makes it: not for other users.
            KeyError::AutokeyForeign { owner: 0, mode, .. } if mode & ANY_OTHERS == 0 => {
                "it is root's: run as root, or use -a PATH for one of your own"
            }
            KeyError::AutokeyForeign { .. } => {
                "remove it (the next run makes a new one), or use -a PATH in a directory \
                 only you can write"
            }
            KeyError::CredentialsDir { .. } => {
                "fix the unit's credentials, or unset the variable for a manual run"
            }
            KeyError::ServiceKey { path, why: None } => {
                let name = credential_name(path);
                return Some(
                    format!(
                        "run it the service's way: sudo systemd-run --pipe --wait -p \
                         LoadCredentialEncrypted={name} tofurkey --check (or give {})",
                        if name == NEXT_CREDENTIAL {
                            "--next-key PATH"
                        } else {
                            "-k PATH"
                        }
                    )
                    .into(),
                );
            }
            KeyError::ServiceKey { .. } => "run as root, or give -k PATH or -a PATH",
            KeyError::NoNextKey => {
                return Some(
                    format!(
                        "put the next key in {} (the service loads it), or set NEXT_KEY=PATH; \
                         or, with no rollover planned, remove NEXT_KEY_AT",
                        credstore::admin_files(NEXT_CREDENTIAL).0.display()
                    )
                    .into(),
                );
            }
            KeyError::Autokey { .. } => {
                "make its directory exist and be writable, or use -a PATH or -k PATH"
            }
        };
        Some(fix.into())
    }
}

/// What was being done when a new autokey could not be made or stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutokeyStep {
    /// Opening the directory it goes in.
    OpenDirectory,
    /// Getting the key's random bytes.
    GetRandomBytes,
    /// Creating a temporary file of a random name (no `O_TMPFILE`).
    CreateTemporaryFile,
    /// Creating the unnamed file (`O_TMPFILE`).
    CreateUnnamedFile,
    /// Setting its mode (a key file's) whatever the umask.
    SetMode,
    /// Writing the key.
    Write,
    /// Syncing the file.
    Sync,
    /// Linking it in under its name.
    LinkIntoPlace,
    /// Syncing the directory.
    SyncDirectory,
}

impl fmt::Display for AutokeyStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AutokeyStep::OpenDirectory => "open directory",
            AutokeyStep::GetRandomBytes => "get random bytes",
            AutokeyStep::CreateTemporaryFile => "create temporary file",
            AutokeyStep::CreateUnnamedFile => "create unnamed file",
            AutokeyStep::SetMode => return write!(f, "set mode {KEY_FILE_MODE:04o}"),
            AutokeyStep::Write => "write",
            AutokeyStep::Sync => "sync",
            AutokeyStep::LinkIntoPlace => "link into place",
            AutokeyStep::SyncDirectory => "sync directory",
        })
    }
}
