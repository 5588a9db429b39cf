//! What a run says: each log entry (level, MESSAGE_ID, message, journal
//! fields), the `STATUS=` line, the `-V` line and the `--check` line.
//!
//! Pure: built from typed values, no I/O; `log.rs` and `notify.rs` send
//! what this makes. [`vocabulary`]: the journal's events and fields;
//! [`entry`]: a key-setting run's entries; [`check_line`]: `--check`'s.

mod check_line;
mod entry;
pub mod vocabulary;

pub use check_line::{Checked, check_entry, check_line};
pub use entry::{
    Outcome, Push, TicketOutcome, Written, autokey, clock_unknown, failure, key_source, keys_line,
    rollover_done, set_anyway, unsynchronized,
};
pub use vocabulary::*;
