//! tofurkey: cluster-synchronized TCP Fast Open keys, derived from a shared
//! main key and the wall clock, set once per run.
//!
//! The pure core (no I/O): [`counters`] (which keys are live when),
//! [`keys`] (derivation, the procfs text and its forms), [`calendar`]
//! (timer events), [`check`] (verdicts), [`report`] (what a run says).
//! The edges: [`cli`], [`keysource`], [`procfs`], [`fileio`], [`log`],
//! [`notify`], [`hygiene`]; [`error`] wraps their errors with exit codes
//! and fixes. Key bytes are kept in [`secret`]'s self-wiping buffers.
//! [`run`] holds a run's policy; `main.rs` parses and calls it.

pub mod calendar;
pub(crate) mod check;
pub mod cli;
pub(crate) mod clock;
pub mod counters;
pub mod error;
pub mod fileio;
pub(crate) mod haproxy;
pub mod hygiene;
pub(crate) mod keydir;
pub mod keys;
pub mod keysource;
pub mod log;
pub(crate) mod metrics;
pub(crate) mod nginx;
pub(crate) mod notify;
pub mod options;
pub(crate) mod outputs;
pub(crate) mod procfs;
pub(crate) mod promfile;
pub(crate) mod report;
pub mod run;
pub(crate) mod secret;
pub(crate) mod tickets;
pub(crate) mod timesync;
