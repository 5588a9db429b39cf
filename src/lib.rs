//! tofurkey: cluster-synchronized TCP Fast Open keys, derived from a shared
//! main key and the wall clock, set once per run.
//!
//! The pure core (no I/O): [`schedule`] (time math), [`keys`] (derivation and
//! formatting), [`calendar`] (timer events). The edges: [`cli`], [`keysource`],
//! [`procfs`], [`log`], [`notify`], [`hygiene`]. `main.rs` wires them.

pub mod calendar;
pub mod check;
pub mod cli;
pub mod error;
pub mod fileio;
pub mod hygiene;
pub mod keys;
pub mod keysource;
pub mod log;
pub mod notify;
pub mod procfs;
pub mod schedule;
