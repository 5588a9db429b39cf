//! The metrics file: read the previous one (for the last success), and
//! replace it atomically: a temporary file in the same directory, renamed
//! over it, so node_exporter never reads half a file. Mode 0644: metrics
//! are for everyone (they hold no secret).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::fileio::{StageStep, Staged, dir_of, open_regular, os_error, read_up_to};

/// Mode of the metrics file.
const MODE: u32 = 0o644;
/// The most of a previous file read: ours are under 2 kB.
const READ_MAX: usize = 16 * 1024;

/// What was being done to the metrics file when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Taking its file name from the path.
    Name,
    /// Opening the directory it goes in.
    OpenDirectory,
    /// Writing the new file under a temporary name.
    Stage(StageStep),
    /// Renaming the new file over the old.
    RenameIntoPlace,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Name => "name",
            Step::OpenDirectory => "open the directory of",
            Step::Stage(step) => return step.fmt(f),
            Step::RenameIntoPlace => "rename into place",
        })
    }
}

/// Why the metrics file could not be written.
#[derive(Debug)]
pub struct MetricsError {
    /// The file.
    pub path: PathBuf,
    /// What was being done.
    pub step: Step,
    /// The system's reason.
    pub why: io::Error,
}

impl fmt::Display for MetricsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} metrics file {}: {}",
            self.step,
            self.path.display(),
            os_error(&self.why)
        )
    }
}

impl MetricsError {
    /// What the admin should do about it: the keys are set all the same.
    pub fn fix(&self) -> Option<&'static str> {
        Some(match self.why.kind() {
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

/// The previous file's text, if there is one to read (not an error if
/// not: a first run, or a file that is not ours).
pub fn previous(path: &Path) -> Option<String> {
    let mut file = open_regular(path, false).ok()?;
    let mut buf = vec![0u8; READ_MAX];
    let len = read_up_to(&mut file, &mut buf).ok()?;
    buf.truncate(len);
    String::from_utf8(buf).ok()
}

/// Replaces `path` with `text`.
pub fn write(path: &Path, text: &str) -> Result<(), MetricsError> {
    let fail = |step, why| MetricsError {
        path: path.to_path_buf(),
        step,
        why,
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| fail(Step::Name, io::Error::from(io::ErrorKind::InvalidInput)))?;
    let dir = dir_of(path);
    let dir: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| fail(Step::OpenDirectory, e))?;
    let staged = Staged::write(&dir, name, text.as_bytes(), MODE)
        .map_err(|(s, e)| fail(Step::Stage(s), e))?;
    staged.commit().map_err(|e| fail(Step::RenameIntoPlace, e))
}
