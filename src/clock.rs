//! The wall clock: its time, and whether the kernel holds it synchronized.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::counters::{BadTime, UnixTime};
use crate::timesync::ClockSync;

/// Why the time could not be had.
#[derive(Debug)]
pub enum ClockError {
    /// Before the epoch.
    BeforeEpoch,
    /// Outside the accepted range.
    Range(BadTime),
}

/// The wall clock in whole seconds, range-checked like 1.3.4.
impl ClockError {
    /// What the admin should do about it.
    pub fn fix(&self) -> Option<&'static str> {
        match self {
            ClockError::BeforeEpoch => Some("fix the clock"),
            ClockError::Range(t) => t.fix(),
        }
    }
}

/// The wall clock as a checked unix time.
pub fn now() -> Result<UnixTime, ClockError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| ClockError::BeforeEpoch)?
        .as_secs();
    UnixTime::new(secs).map_err(ClockError::Range)
}

/// The kernel's NTP state, read with `adjtimex(2)` and no modes: it changes
/// nothing, and needs no privilege (no `CAP_SYS_TIME`).
pub fn sync() -> io::Result<ClockSync> {
    // SAFETY: `timex` is a plain C struct, for which all zeros is a valid
    // value; adjtimex reads and writes only the struct it is given, a
    // local, and with `modes` 0 it sets nothing.
    let (state, tx) = unsafe {
        let mut tx: libc::timex = std::mem::zeroed();
        (libc::adjtimex(&mut tx), tx)
    };
    if state < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ClockSync::of(state, tx.status))
}
