//! The ticket key outputs of one run: opened and checked together before a
//! byte of key is read, then each written whatever became of the others.

use std::rc::Rc;

use crate::check::{TicketVerdict, classify_tickets};
use crate::haproxy::{KeyFile, Runtime, SocketError};
use crate::hygiene::StopSignals;
use crate::keydir::{DirError, Held, KeyDir};
use crate::keys::Keys;
use crate::nginx::{self, Nginx};
use crate::options::Tickets;
use crate::report::{Push, Written};
use crate::tickets::{Schedule, TicketSet};

impl Tickets {
    /// Why these outputs cannot be asked for together: HAProxy's file is
    /// one of nginx's in its directory. The parser calls this (a usage
    /// error, before anything is opened); it lives here, with the outputs
    /// whose file names it knows.
    pub(crate) fn name_clash(&self) -> Option<String> {
        let (Some(dir), Some(file)) = (&self.nginx, &self.haproxy_file) else {
            return None;
        };
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let nginx_file = nginx::FILES.contains(&name) || name == nginx::STAMP;
        (file.parent() == Some(dir.as_path()) && nginx_file).then(|| {
            format!(
                "--haproxy-tickets {}: a file of nginx's in --nginx-tickets {}: give it another name",
                file.display(),
                dir.display()
            )
        })
    }
}

/// The ticket outputs asked for, checked.
pub struct TicketOutputs {
    nginx: Option<Nginx>,
    haproxy: Option<KeyFile>,
    runtime: Option<Runtime>,
}

/// Why a ticket output could not be used.
#[derive(Debug)]
pub enum OutputError {
    /// A key directory or file.
    Dir(DirError),
    /// The running HAProxy.
    Socket(SocketError),
}

impl From<DirError> for OutputError {
    fn from(e: DirError) -> OutputError {
        OutputError::Dir(e)
    }
}

impl From<SocketError> for OutputError {
    fn from(e: SocketError) -> OutputError {
        OutputError::Socket(e)
    }
}

/// What writing the outputs did.
pub struct Results {
    /// What changed.
    pub written: Written,
    /// The outputs that failed.
    pub errors: Vec<OutputError>,
    /// What worked but the admin should know.
    pub warnings: Vec<String>,
}

impl TicketOutputs {
    /// Opens and checks every output asked for, and reads the running
    /// HAProxy's keys; writes nothing.
    pub fn open(asked: &Tickets) -> Result<TicketOutputs, OutputError> {
        let nginx_dir = asked.nginx.as_deref().map(KeyDir::open).transpose()?;
        let nginx_dir = nginx_dir.map(Rc::new);
        let nginx = nginx_dir.clone().map(Nginx::open).transpose()?;
        let haproxy = asked
            .haproxy_file
            .as_deref()
            .map(|file| KeyFile::open(file, nginx_dir.as_ref()))
            .transpose()?;
        let runtime = match (&asked.haproxy_socket, &asked.haproxy_file) {
            (Some(socket), Some(file)) => Some(Runtime::open(socket, file)?),
            _ => None,
        };
        Ok(TicketOutputs {
            nginx,
            haproxy,
            runtime,
        })
    }

    /// True when no ticket output was asked for.
    pub fn is_empty(&self) -> bool {
        self.nginx.is_none() && self.haproxy.is_none() && self.runtime.is_none()
    }

    /// Writes `set` to every output; its fingerprint `id` and the run's
    /// time `now` go into nginx's reload stamp. Each output is tried
    /// whatever became of the others; the running HAProxy after its file,
    /// so that a HAProxy reloaded meanwhile loads the set. A signal of
    /// `stop` ends the push (the one wait here).
    pub fn write(&self, set: &TicketSet, id: &str, now: u64, stop: &StopSignals) -> Results {
        let mut r = Results {
            written: Written::default(),
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        if let Some(nginx) = &self.nginx {
            match nginx.write(set, id, now) {
                Ok(n) => r.written.nginx = Some(n),
                Err(e) => r.errors.push(e.into()),
            }
        }
        if let Some(file) = &self.haproxy {
            match file.write(set) {
                Ok(changed) => r.written.haproxy_file = Some(changed),
                Err(e) => r.errors.push(e.into()),
            }
        }
        if let Some(runtime) = &self.runtime {
            match runtime.push(set, stop) {
                Ok(push) => {
                    r.written.haproxy_runtime = Some(push);
                    if let Push::Keys { foreign: true, .. } = push {
                        r.warnings.push(format!(
                            "the {} held none of this set's keys (another main key or tool, or \
                             three rotations missed): all three replaced",
                            runtime.describe()
                        ));
                    }
                }
                Err(e) => r.errors.push(e.into()),
            }
        }
        r
    }

    /// `--check`: what each output holds, compared with the set for
    /// `schedule`; each verdict with the output's name.
    pub fn check(
        &self,
        main: Keys<'_>,
        schedule: Schedule,
    ) -> Result<Vec<(String, TicketVerdict)>, OutputError> {
        let mut verdicts = Vec::new();
        let classify = |held, form| classify_held(held, main, schedule, form);
        if let Some(nginx) = &self.nginx {
            verdicts.push((
                format!("nginx tickets {}", nginx.path().display()),
                classify(nginx.read()?, TicketSet::nginx_files),
            ));
        }
        if let Some(file) = &self.haproxy {
            verdicts.push((
                format!("HAProxy tickets {}", file.path().display()),
                classify_held(file.read()?, main, schedule, TicketSet::haproxy_file),
            ));
        }
        if let Some(runtime) = &self.runtime {
            verdicts.push((
                runtime.describe(),
                classify_tickets(runtime.live(), main, schedule, TicketSet::haproxy_file),
            ));
        }
        Ok(verdicts)
    }
}

/// A key file's verdict: one another user may read is CRITICAL whatever
/// it holds; else as [`classify_tickets`].
fn classify_held<F: AsRef<[u8]>>(
    held: Option<Held>,
    main: Keys<'_>,
    schedule: Schedule,
    form: fn(&TicketSet) -> F,
) -> TicketVerdict {
    match held {
        Some(Held { exposed: true, .. }) => TicketVerdict::Exposed,
        held => classify_tickets(held.as_ref().map(|h| &h.bytes[..]), main, schedule, form),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn clash(nginx: &str, haproxy: &str) -> Option<String> {
        Tickets {
            nginx: Some(PathBuf::from(nginx)),
            haproxy_file: Some(PathBuf::from(haproxy)),
            haproxy_socket: None,
        }
        .name_clash()
    }

    #[test]
    fn haproxy_file_not_one_of_nginx() {
        for name in nginx::FILES.iter().chain(&[nginx::STAMP]) {
            assert_eq!(
                clash("/run/t", &format!("/run/t/{name}")),
                Some(format!(
                    "--haproxy-tickets /run/t/{name}: a file of nginx's in --nginx-tickets \
                     /run/t: give it another name"
                ))
            );
        }
        // Another directory, or another name: no clash.
        assert_eq!(clash("/run/t", "/run/u/current.key"), None);
        assert_eq!(clash("/run/t", "/run/t/haproxy.keys"), None);
        let one = Tickets {
            nginx: Some(PathBuf::from("/run/t")),
            ..Tickets::default()
        };
        assert_eq!(one.name_clash(), None);
    }
}
