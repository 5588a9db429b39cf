//! nginx's ticket key files: `DIR/previous.key`, `DIR/current.key` and
//! `DIR/next.key`, 80 bytes each in nginx's layout, and the stamp
//! `DIR/changed` that tells the shipped path unit to reload nginx.
//!
//! nginx reads key files only when it (re)loads its configuration, so the
//! files are replaced (atomically, each only when its content changes) in
//! the order previous, current, next: a reload that someone else starts
//! between two renames finds both the old and the new current key (a
//! duplicate, which nginx tolerates), so no ticket from a host on either
//! side of the rotation is refused. The stamp is written last, and only
//! when a key file changed: the reload we trigger always loads a whole set,
//! and a run that changes nothing reloads nothing.

use std::path::Path;
use std::rc::Rc;

use zeroize::Zeroizing;

use crate::keydir::{COMPARED_MAX, DirError, Held, KeyDir};
use crate::tickets::{KEY_LEN, SET_LEN, TicketSet};

/// The key files, oldest first (as [`TicketSet::keys`]); nginx encrypts with
/// the first `ssl_session_ticket_key`, so its configuration lists
/// `current.key` first.
pub const FILES: [&str; SET_LEN] = ["previous.key", "current.key", "next.key"];
/// Rewritten after any key file changed: the path unit's trigger.
pub const STAMP: &str = "changed";

/// nginx's ticket directory, checked.
pub struct Nginx {
    dir: Rc<KeyDir>,
}

impl Nginx {
    /// Checks the names of its files in `dir`, the directory checked (and
    /// perhaps shared with HAProxy's file); writes nothing.
    pub fn open(dir: Rc<KeyDir>) -> Result<Nginx, DirError> {
        for name in FILES.iter().chain(&[STAMP]) {
            dir.check(name)?;
        }
        Ok(Nginx { dir })
    }

    /// Puts `set` in place and, if a key file changed (or the stamp does
    /// not name this set: an earlier stamp write failed), writes the stamp:
    /// the run's time `now` and the set's fingerprint `id`, nothing secret.
    /// Returns how many key files were replaced.
    pub fn write(&self, set: &TicketSet, id: &str, now: u64) -> Result<usize, DirError> {
        let bytes = set.nginx_files();
        let mut files = bytes.chunks_exact(KEY_LEN);
        let files: [(&str, &[u8]); SET_LEN] =
            FILES.map(|name| (name, files.next().unwrap_or_default()));
        let replaced = self.dir.replace(&files)?;
        let stamped = || -> Result<bool, DirError> {
            Ok(self.dir.read(STAMP)?.is_some_and(|s| {
                s.bytes
                    .strip_suffix(b"\n")
                    .is_some_and(|s| s.ends_with(id.as_bytes()))
            }))
        };
        if replaced > 0 || !stamped()? {
            let now = now.to_string();
            let mut stamp = String::with_capacity(now.len() + id.len() + 2);
            for part in [&now[..], " ", id, "\n"] {
                stamp.push_str(part);
            }
            self.dir.replace(&[(STAMP, stamp.as_bytes())])?;
        }
        Ok(replaced)
    }

    /// Reads the key files for `--check`, concatenated oldest first as
    /// [`TicketSet::nginx_files`], exposed if one is; `None` if one is
    /// missing.
    pub fn read(&self) -> Result<Option<Held>, DirError> {
        // Sized once: a growing Vec would free unwiped copies of the keys.
        let mut all = Held {
            bytes: Zeroizing::new(Vec::with_capacity(SET_LEN * (COMPARED_MAX + 1))),
            exposed: false,
        };
        for name in FILES {
            match self.dir.read(name)? {
                Some(held) => {
                    all.bytes.extend_from_slice(&held.bytes);
                    all.exposed |= held.exposed;
                }
                None => return Ok(None),
            }
        }
        Ok(Some(all))
    }

    /// The directory, as given.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::{Interval, UnixTime};
    use crate::keys::MainKey;
    use crate::tickets::Schedule;

    /// The stamp is rewritten whenever a key file was replaced, even by the
    /// same set (a file someone removed, put back): the path unit then
    /// reloads nginx. A run that replaced nothing leaves it alone.
    #[test]
    fn the_stamp_follows_every_replaced_file() {
        // Key files go on tmpfs only.
        let t = tempfile::tempdir_in("/dev/shm").unwrap();
        let nginx = Nginx::open(Rc::new(KeyDir::open(t.path()).unwrap())).unwrap();
        let at = UnixTime::new(1_800_000_000).unwrap();
        let set = TicketSet::derive(
            &MainKey::new([3; 32]),
            Schedule::at(at, Interval::new(3600).unwrap()),
        );
        let stamp = || std::fs::read_to_string(t.path().join(STAMP)).unwrap();
        assert_eq!(nginx.write(&set, "id", 100).unwrap(), SET_LEN);
        assert_eq!(stamp(), "100 id\n");
        assert_eq!(nginx.write(&set, "id", 200).unwrap(), 0);
        assert_eq!(stamp(), "100 id\n", "nothing replaced, no reload");
        std::fs::remove_file(t.path().join(FILES[1])).unwrap();
        assert_eq!(nginx.write(&set, "id", 300).unwrap(), 1);
        assert_eq!(stamp(), "300 id\n");
    }
}
