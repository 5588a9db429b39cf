//! The ticket key outputs of one run: opened and checked together before a
//! byte of key is read, then each written whatever became of the others.

use crate::check::{TicketVerdict, classify_tickets};
use crate::cli::Tickets;
use crate::error::Error;
use crate::haproxy::KeyFile;
use crate::keys::MainKey;
use crate::nginx::Nginx;
use crate::report::Written;
use crate::tickets::{Schedule, TicketSet};

/// The ticket outputs asked for, checked.
pub struct TicketOutputs {
    nginx: Option<Nginx>,
    haproxy: Option<KeyFile>,
}

impl TicketOutputs {
    /// Opens and checks every output asked for; writes nothing.
    pub fn open(asked: &Tickets) -> Result<TicketOutputs, Error> {
        Ok(TicketOutputs {
            nginx: asked.nginx.as_deref().map(Nginx::open).transpose()?,
            haproxy: asked
                .haproxy_file
                .as_deref()
                .map(KeyFile::open)
                .transpose()?,
        })
    }

    /// True when no ticket output was asked for.
    pub fn is_empty(&self) -> bool {
        self.nginx.is_none() && self.haproxy.is_none()
    }

    /// Writes `set` to every output; `stamp` is nginx's reload stamp. Each
    /// output is tried; the errors of those that failed are returned.
    pub fn write(&self, set: &TicketSet, stamp: &str) -> (Written, Vec<Error>) {
        let mut errors = Vec::new();
        let mut written = Written::default();
        if let Some(nginx) = &self.nginx {
            match nginx.write(set, stamp) {
                Ok(n) => written.nginx = Some(n),
                Err(e) => errors.push(e.into()),
            }
        }
        if let Some(file) = &self.haproxy {
            match file.write(set) {
                Ok(changed) => written.haproxy_file = Some(changed),
                Err(e) => errors.push(e.into()),
            }
        }
        (written, errors)
    }

    /// `--check`: what each output holds, compared with the set for
    /// `schedule`; each verdict with the output's name.
    pub fn check(
        &self,
        main: &MainKey,
        schedule: Schedule,
    ) -> Result<Vec<(String, TicketVerdict)>, Error> {
        let mut verdicts = Vec::new();
        if let Some(nginx) = &self.nginx {
            let held = nginx.read()?;
            verdicts.push((
                format!("nginx tickets {}", nginx.path().display()),
                classify_tickets(
                    held.as_deref().map(|h| &h[..]),
                    main,
                    schedule,
                    TicketSet::nginx_files,
                ),
            ));
        }
        if let Some(file) = &self.haproxy {
            let held = file.read()?;
            verdicts.push((
                format!("HAProxy tickets {}", file.path().display()),
                classify_tickets(
                    held.as_deref().map(|h| &h[..]),
                    main,
                    schedule,
                    TicketSet::haproxy_file,
                ),
            ));
        }
        Ok(verdicts)
    }
}
