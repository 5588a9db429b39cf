//! tofurkey: cluster-synchronized TCP Fast Open keys and TLS ticket keys,
//! derived from a shared main key and the wall clock, set once per run.
//!
//! The pure core (no I/O): [`counters`] (which keys are live when, dates),
//! [`keys`] (derivation, the procfs text and its forms), `tickets` (TLS
//! ticket keys and their layouts), [`calendar`] (timer events), `check`
//! (verdicts), `metrics` (the Prometheus text), `report` (what a run
//! says), `secret` (self-wiping key buffers).
//! The run: [`options`] (what was asked), [`cli`] (parsing it), [`config`]
//! (the settings file, for a command line that names none), [`run`]
//! (the run's policy), [`error`] (wraps each module's error, which carries
//! its own fix, and maps exit codes); `main.rs` parses and calls [`run`].
//! The edges: [`keysource`] (the main key), `procfs` (the target), `keydir`,
//! `nginx`, `haproxy` and `outputs` (ticket outputs), [`tipc`] (TIPC's
//! master key, through generic netlink), [`dirpath`] (a
//! directory reached without links), [`fileio`],
//! `promfile` (the metrics file), `clock` and `timesync`, [`log`], `notify`,
//! [`hygiene`].

pub mod calendar;
pub(crate) mod check;
pub mod cli;
pub(crate) mod clock;
pub mod config;
pub mod counters;
pub mod dirpath;
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
pub mod tipc;
