//! HAProxy's ticket keys: the file its `tls-ticket-keys` loads
//! ([`KeyFile`]), and the running HAProxy, brought to the same keys through
//! its admin socket ([`Runtime`]).
//!
//! `api.rs` is the runtime API's protocol (commands and answers, pure);
//! `socket.rs` sends one command over a trusted admin socket (`error.rs`:
//! why it could not, each with its fix); `wait.rs`
//! bounds its waits (a deadline, the stop signals).

mod api;
mod error;
mod keyfile;
mod runtime;
mod socket;
mod wait;

pub use error::SocketError;
pub use keyfile::KeyFile;
pub use runtime::Runtime;
