//! The metrics file: read the previous one (for the last success), and
//! replace it atomically: a temporary file in the same directory, renamed
//! over it, so node_exporter never reads half a file. Mode 0644: metrics
//! are for everyone (they hold no secret). Its directory is reached without
//! following a link, and the previous file read without following one:
//! root's write lands where the path says, and nowhere a link points.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::dirpath::{self, Ancestors, PathError, Problem};
use crate::fileio::{Kind, StageStep, Staged, dir_of, file_name, openat, os_error, read_up_to};

/// Mode of the metrics file.
const MODE: u32 = 0o644;
/// The most of a previous file read: ours are under 2 kB.
const READ_MAX: usize = 16 * 1024;

/// What was being done to the metrics file when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Taking its file name from the path.
    Name,
    /// Writing the new file under a temporary name.
    Stage(StageStep),
    /// Renaming the new file over the old.
    RenameIntoPlace,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Name => "name",
            Step::Stage(step) => return step.fmt(f),
            Step::RenameIntoPlace => "rename into place",
        })
    }
}

/// Why the metrics file could not be written.
#[derive(Debug)]
pub enum MetricsError {
    /// Its directory was refused: missing, or a link on the way.
    Directory {
        /// The file.
        path: PathBuf,
        /// Why.
        error: PathError,
    },
    /// A step of the write failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        step: Step,
        /// The system's reason.
        why: io::Error,
    },
}

impl fmt::Display for MetricsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsError::Directory { path, error } => {
                write!(f, "metrics file {}: {error}", path.display())
            }
            MetricsError::Io { path, step, why } => write!(
                f,
                "cannot {step} metrics file {}: {}",
                path.display(),
                os_error(why)
            ),
        }
    }
}

impl MetricsError {
    /// What the admin should do about it: the keys are set all the same.
    pub fn fix(&self) -> Option<&'static str> {
        let why = match self {
            MetricsError::Directory { error, .. } => match &error.problem {
                Problem::Open(why) => why,
                Problem::Link(_) => return Some("give the path without links; the keys are set"),
                Problem::DotDot => return Some("give the path without '..'; the keys are set"),
                Problem::NotDirectory | Problem::Untrusted { .. } => {
                    return Some("check the path; the keys are set");
                }
            },
            MetricsError::Io { why, .. } => why,
        };
        Some(match why.kind() {
            io::ErrorKind::NotFound => {
                "make the directory (node_exporter's textfile directory; Debian's is \
                 /var/lib/prometheus/node-exporter); the keys are set"
            }
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                "run as root, or let the unit write the directory (ReadWritePaths=); the keys \
                 are set"
            }
            _ => "check the directory; the keys are set",
        })
    }
}

/// The metrics file's directory, reached without following a link (the
/// file holds nothing secret, so its directories may be anyone's: a
/// node_exporter's own), and the file's name in it.
fn open_dir(path: &Path) -> Result<(File, &str), MetricsError> {
    let name = file_name(path).ok_or_else(|| MetricsError::Io {
        path: path.to_path_buf(),
        step: Step::Name,
        why: io::Error::from(io::ErrorKind::InvalidInput),
    })?;
    let dir = dirpath::open_dir(dir_of(path), Ancestors::AnyOwner).map_err(|error| {
        MetricsError::Directory {
            path: path.to_path_buf(),
            error,
        }
    })?;
    Ok((dir, name))
}

/// The previous file's text, if there is one to read (not an error if
/// not: a first run, or a file that is not ours), never through a link.
pub fn previous(path: &Path) -> Option<String> {
    let (dir, name) = open_dir(path).ok()?;
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
    let mut file = openat(&dir, Path::new(name), flags, Mode::empty()).ok()?;
    if Kind::of_mode(file.metadata().ok()?.mode()).is_some() {
        return None;
    }
    let mut buf = vec![0u8; READ_MAX];
    let len = read_up_to(&mut file, &mut buf).ok()?;
    buf.truncate(len);
    String::from_utf8(buf).ok()
}

/// Replaces `path` with `text`.
pub fn write(path: &Path, text: &str) -> Result<(), MetricsError> {
    let fail = |step, why| MetricsError::Io {
        path: path.to_path_buf(),
        step,
        why,
    };
    let (dir, name) = open_dir(path)?;
    let staged = Staged::write(&dir, name, text.as_bytes(), MODE)
        .map_err(|(s, e)| fail(Step::Stage(s), e))?;
    staged.commit().map_err(|e| fail(Step::RenameIntoPlace, e))
}
