//! What the kernel's NTP state says of the wall clock. Pure: `clock.rs`
//! reads the state.
//!
//! Keys follow the wall clock, so a host whose clock is not synchronized
//! may compute keys the rest of the fleet does not hold. The kernel knows:
//! `adjtimex(2)` (read with no modes) returns `TIME_ERROR` and sets
//! `STA_UNSYNC` until a time daemon has disciplined the clock (and again
//! when its estimated error passes 16 s). timedatectl's "System clock
//! synchronized" is the same test. Where `adjtimex` is refused (a
//! container's or a unit's system call filter), the state is unknown, and
//! said so as loudly: a clock nobody can see may be as wrong. The keys are
//! set either way: the kernel's own random key is no better.

/// `adjtimex`'s return value for a clock that is not synchronized.
pub const TIME_ERROR: i32 = 5;
/// The status bit a time daemon clears once it disciplines the clock.
pub const STA_UNSYNC: i32 = 0x0040;

/// The wall clock's synchronization, as the kernel reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSync {
    /// A time daemon keeps it synchronized.
    Synchronized,
    /// Not synchronized (or no longer).
    Unsynchronized,
    /// The kernel's state could not be read (`adjtimex` refused).
    Unknown,
}

impl ClockSync {
    /// Classifies `adjtimex`'s return value and `status` field.
    pub fn of(state: i32, status: i32) -> ClockSync {
        if state == TIME_ERROR || status & STA_UNSYNC != 0 {
            ClockSync::Unsynchronized
        } else {
            ClockSync::Synchronized
        }
    }

    /// 1, 0, or -1 when unknown, for the journal field and the metric:
    /// anything but 1 is a clock not known to be synchronized, which one
    /// alert catches (`tofurkey_clock_synchronized != 1`).
    pub fn flag(self) -> &'static str {
        match self {
            ClockSync::Synchronized => "1",
            ClockSync::Unsynchronized => "0",
            ClockSync::Unknown => "-1",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        // TIME_OK .. TIME_WAIT with the daemon's bit clear: synchronized,
        // leap second states included.
        for state in 0..=4 {
            assert_eq!(
                ClockSync::of(state, 0x2001),
                ClockSync::Synchronized,
                "{state}"
            );
        }
        assert_eq!(ClockSync::of(TIME_ERROR, 0), ClockSync::Unsynchronized);
        // A fresh boot: TIME_ERROR and STA_UNSYNC.
        assert_eq!(
            ClockSync::of(TIME_ERROR, STA_UNSYNC),
            ClockSync::Unsynchronized
        );
        // STA_UNSYNC alone (a daemon gave up) is enough.
        assert_eq!(
            ClockSync::of(0, STA_UNSYNC | 0x2000),
            ClockSync::Unsynchronized
        );
        assert_eq!(ClockSync::Synchronized.flag(), "1");
        assert_eq!(ClockSync::Unsynchronized.flag(), "0");
        assert_eq!(ClockSync::Unknown.flag(), "-1");
    }
}
