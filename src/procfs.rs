//! The target: `/proc/sys/net/ipv4/tcp_fastopen_key` (or `-P`). Opened
//! before any key is read; then the pair in place is read, the new pair
//! written in one `write(2)` and read back, because the kernel can accept a
//! write and keep less than was written (before Linux 5.3 it silently drops
//! the backup key). When the write fails after changing anything, or reads
//! back wrong, the old pair is written back: a failed run leaves the keys
//! in place as they were, or says that it could not.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::fileio::{self, Kind, OpenError, os_error};
use crate::keys::{self, Form, PAIR_TEXT_LEN, PairText};
use crate::secret::Secret;

/// The most a target may hold: what the kernel prints back (71 characters
/// and a newline) with room to notice anything longer. A `-P` file holding
/// more is no key file, and could not be put back exactly.
pub(crate) const TARGET_MAX: usize = 128;
const _: () = assert!(TARGET_MAX > PAIR_TEXT_LEN + 1);

/// What was being done to the target when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Opening it.
    Open,
    /// Reading what it holds.
    Read,
    /// Writing the pair.
    Write,
    /// Reading the pair back.
    ReadBack,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Open => "open",
            Step::Read => "read",
            Step::Write => "write",
            Step::ReadBack => "read back",
        })
    }
}

/// Why the target could not be set (or read).
#[derive(Debug)]
pub enum TargetError {
    /// A step failed.
    Io {
        /// Which file.
        path: PathBuf,
        /// The step.
        step: Step,
        /// The OS error.
        why: io::Error,
        /// What the target holds now.
        kept: Kept,
    },
    /// Not a regular file (procfs files are).
    NotFile {
        /// Which file.
        path: PathBuf,
        /// What it is instead.
        kind: Kind,
    },
    /// It holds more than a key file can: it is not one.
    TooLarge {
        /// Which file.
        path: PathBuf,
    },
    /// The write was taken, but the target reads back something else.
    Mismatch {
        /// Which file.
        path: PathBuf,
        /// What came back, by its form (no key bytes).
        found: Form,
        /// What the target holds now.
        kept: Kept,
    },
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Io {
                path,
                step,
                why,
                kept,
            } => write!(
                f,
                "cannot {step} {}: {}{kept}",
                path.display(),
                os_error(why)
            ),
            TargetError::NotFile { path, kind } => write!(
                f,
                "target {} is a {}, not a regular or procfs file",
                path.display(),
                kind.name()
            ),
            TargetError::TooLarge { path } => write!(
                f,
                "target {} holds more than {TARGET_MAX} bytes, so it is no key file",
                path.display()
            ),
            TargetError::Mismatch { path, found, kept } => {
                let found = match found {
                    Form::Empty => "nothing".into(),
                    Form::NeverSet => "never-set keys (zeros)".into(),
                    Form::Key => "a single key".into(),
                    Form::Pair => "a different key pair".into(),
                    Form::Other { len, fields: 1 } => format!("{len} bytes, not a key pair"),
                    Form::Other { len, fields } => {
                        format!("{len} bytes in {fields} fields, not a key pair")
                    }
                };
                write!(
                    f,
                    "{} reads back {found} after the write{kept}",
                    path.display()
                )
            }
        }
    }
}

impl TargetError {
    /// What the admin should do about it (printed after the message).
    pub(crate) fn fix(&self) -> Option<&'static str> {
        Some(match self {
            TargetError::Io { why, .. } if why.kind() == io::ErrorKind::PermissionDenied => {
                "run as root (or with CAP_NET_ADMIN), or check -P"
            }
            TargetError::Io {
                step: Step::Open,
                why,
                ..
            } if why.kind() == io::ErrorKind::NotFound => {
                "check -P, or that this kernel (and network namespace) has TCP Fast Open"
            }
            TargetError::Io { why, .. } if why.kind() == io::ErrorKind::InvalidInput => {
                "the kernel refused the text: check -P"
            }
            TargetError::Io { why, .. }
                if matches!(
                    why.kind(),
                    io::ErrorKind::StorageFull | io::ErrorKind::FileTooLarge
                ) =>
            {
                "make room (or raise the file size limit), or check -P"
            }
            TargetError::Io { .. } => "check -P",
            TargetError::NotFile { .. } | TargetError::TooLarge { .. } => "check -P",
            // A single key back is what kernels before 5.3 keep.
            TargetError::Mismatch {
                found: Form::Key, ..
            } => "a kernel that keeps both keys (Linux 5.3 or later) is needed",
            TargetError::Mismatch { .. } => {
                "check that nothing else writes it and that it keeps what is written"
            }
        })
    }
}

/// What a failed write left in the target.
#[derive(Debug)]
pub enum Kept {
    /// The failure came before any write: nothing to say.
    NotWritten,
    /// Nothing was changed: the target holds what it held before.
    Unchanged,
    /// It was changed, and the old content was written back.
    Restored,
    /// It was changed, and writing the old content back failed.
    NotRestored(String),
    /// It was changed, and it held never-set keys (zeros) before: writing
    /// zeros would set a real all-zero key, which anyone could use.
    NeverSet,
    /// It holds another whole pair, written since by someone else: left.
    OtherWriter,
}

impl fmt::Display for Kept {
    /// The clause an error message appends after its cause.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kept::NotWritten => Ok(()),
            Kept::Unchanged => f.write_str("; the keys in place are unchanged"),
            Kept::Restored => f.write_str("; the old keys were put back"),
            Kept::NotRestored(why) => write!(f, "; putting the old keys back failed ({why})"),
            Kept::NeverSet => f.write_str("; it held no keys before, so none were put back"),
            Kept::OtherWriter => f.write_str("; another writer's pair is there now, left as it is"),
        }
    }
}

/// An open target, checked to be a regular file (procfs files are).
pub struct Target {
    path: PathBuf,
    file: File,
}

impl Target {
    /// Opens `path` for reading and writing. It is never created, and a
    /// FIFO, device or directory is refused before it is opened.
    pub fn open(path: &Path) -> Result<Target, TargetError> {
        Target::opened(path, true)
    }

    /// Opens `path` for reading only (`--check`), with the same checks.
    pub fn open_read(path: &Path) -> Result<Target, TargetError> {
        Target::opened(path, false)
    }

    fn opened(path: &Path, write: bool) -> Result<Target, TargetError> {
        let step = if write { Step::Open } else { Step::Read };
        let file = fileio::open_regular(path, write).map_err(|e| match e {
            OpenError::Io(why) => TargetError::Io {
                path: path.to_path_buf(),
                step,
                why,
                kept: Kept::NotWritten,
            },
            OpenError::NotRegular(kind) => TargetError::NotFile {
                path: path.to_path_buf(),
                kind,
            },
        })?;
        Ok(Target {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The pair text the target holds now: up to the first newline or NUL.
    /// Wiped on drop.
    pub fn read(&self) -> Result<Zeroizing<Vec<u8>>, TargetError> {
        self.held().map_err(|e| self.fail(Step::Read, e))
    }

    /// Writes the pair in one `write(2)` and checks that the target holds
    /// it; on any failure that changed the target, puts the old pair back.
    pub fn write(&self, pair: &PairText) -> Result<(), TargetError> {
        let mut old = Secret::<{ TARGET_MAX + 1 }>::zeroed();
        let old_len = fileio::read_from_start(&self.file, &mut old[..])
            .map_err(|e| self.fail(Step::Read, e))?;
        if old_len > TARGET_MAX {
            return Err(TargetError::TooLarge {
                path: self.path.clone(),
            });
        }
        let old = &old[..old_len];
        // One write(2): the kernel parses the value per write call, so the
        // pair must arrive whole.
        let data = pair.for_write();
        let (step, why) = match self.file.write_at(data, 0) {
            Ok(n) if n == data.len() => match self.held() {
                Ok(held) if held.as_slice() == pair.text() => return Ok(()),
                Ok(held) => {
                    let found = Form::of(&held);
                    // Another whole pair is someone else's write since ours
                    // (another run): putting ours back would undo theirs.
                    let kept = match found {
                        Form::Pair => Kept::OtherWriter,
                        _ => self.put_back(old),
                    };
                    return Err(TargetError::Mismatch {
                        path: self.path.clone(),
                        found,
                        kept,
                    });
                }
                Err(e) => (Step::ReadBack, e),
            },
            Ok(n) => (
                Step::Write,
                io::Error::other(format!("short write, {n} of {} bytes", data.len())),
            ),
            Err(e) => (Step::Write, e),
        };
        Err(TargetError::Io {
            path: self.path.clone(),
            step,
            why,
            kept: self.put_back(old),
        })
    }

    /// The pair text the target holds now.
    fn held(&self) -> io::Result<Zeroizing<Vec<u8>>> {
        let mut buf = Secret::<TARGET_MAX>::zeroed();
        let len = fileio::read_from_start(&self.file, &mut buf[..])?;
        Ok(Zeroizing::new(text(&buf[..len]).to_vec()))
    }

    /// Writes `old` back if the target no longer holds it, and says how
    /// that went, checked by reading it again.
    fn put_back(&self, old: &[u8]) -> Kept {
        let mut now = Secret::<{ TARGET_MAX + 1 }>::zeroed();
        let same =
            |now: &mut [u8]| fileio::read_from_start(&self.file, now).map(|n| &now[..n] == old);
        if let Ok(true) = same(&mut now[..]) {
            return Kept::Unchanged;
        }
        if keys::never_set(text(old)) {
            return Kept::NeverSet;
        }
        let wrote = self.file.write_at(old, 0);
        // A regular file may have grown; procfs files have no length.
        let trimmed = match self.file.metadata() {
            Ok(m) if m.len() > old.len() as u64 => self.file.set_len(old.len() as u64),
            _ => Ok(()),
        };
        match same(&mut now[..]) {
            Ok(true) => Kept::Restored,
            Ok(false) => Kept::NotRestored(match (wrote, trimmed) {
                (Err(e), _) | (_, Err(e)) => os_error(&e),
                _ => "it reads back something else".into(),
            }),
            Err(e) => Kept::NotRestored(os_error(&e)),
        }
    }

    fn fail(&self, step: Step, why: io::Error) -> TargetError {
        TargetError::Io {
            path: self.path.clone(),
            step,
            why,
            kept: Kept::NotWritten,
        }
    }
}

/// The text of what a target holds: up to the first newline or NUL.
fn text(held: &[u8]) -> &[u8] {
    let end = held
        .iter()
        .position(|&b| b == b'\n' || b == 0)
        .unwrap_or(held.len());
    &held[..end]
}

#[cfg(test)]
mod tests;
