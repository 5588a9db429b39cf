//! `STATUS=` for `systemctl status`, when systemd passed `$NOTIFY_SOCKET`.
//!
//! Sent with libsystemd's notify, which handles both socket forms systemd
//! uses: a path and an abstract `@name` (sd-notify 0.5 fails on the latter).

use libsystemd::daemon::{self, NotifyState};

/// True when systemd listens for a `STATUS=` (`$NOTIFY_SOCKET` is set).
pub fn wanted() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// Sends `STATUS=<line>` if systemd listens. Returns the error text when
/// the socket is set but the send failed; nothing when it is unset.
pub fn status(line: &str) -> Result<(), String> {
    if !wanted() {
        return Ok(());
    }
    // Escaped: a newline would start another field (`READY=1`, say).
    let line = crate::log::escape(line).into_owned();
    daemon::notify(false, &[NotifyState::Status(line)])
        .map(|_| ())
        .map_err(|e| e.to_string())
}
