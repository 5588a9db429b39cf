//! Shared by the fuzz targets: a scratch directory private to this process,
//! so a target never touches a file outside it.

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

/// An empty directory for this iteration: `$TMPDIR/tofurkey-fuzz-NAME-PID`,
/// emptied on every call and removed when the process exits.
pub fn scratch(name: &str) -> PathBuf {
    let dir = SCRATCH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tofurkey-fuzz-{name}-{}", std::process::id()));
        // SAFETY: registers a plain extern "C" function with no arguments.
        unsafe { libc::atexit(remove_scratch) };
        dir
    });
    // Start from nothing each time: whatever the last input left (a FIFO,
    // a symlink, a directory) must not shape this one.
    let _ = fs::remove_dir_all(dir);
    fs::create_dir(dir).expect("create the scratch directory");
    dir.clone()
}

extern "C" fn remove_scratch() {
    if let Some(dir) = SCRATCH.get() {
        let _ = fs::remove_dir_all(dir);
    }
}
