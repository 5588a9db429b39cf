//! Where systemd keeps the service's credentials, `tofurkey.key` and a
//! rollover's `tofurkey.key.next`: a manual run takes the ones the service
//! would load, and a message about a credential's bytes names the admin's
//! file, not systemd's copy.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{CREDENTIAL, DEFAULT_AUTOKEY, KeyError, Source};

/// Where `LoadCredential=NAME` finds a credential, in systemd's order, for a
/// run outside the service.
pub const CREDSTORES: [&str; 3] = ["/etc/credstore", "/run/credstore", "/usr/lib/credstore"];
/// Where the admin puts encrypted credentials; tofurkey-generator makes
/// the service load them.
pub const ENCRYPTED_STORE: &str = "/etc/credstore.encrypted";
/// The encrypted main key.
pub const ENCRYPTED_CREDENTIAL: &str = "/etc/credstore.encrypted/tofurkey.key";
const _: () = assert!(
    ENCRYPTED_CREDENTIAL.len() == ENCRYPTED_STORE.len() + 1 + CREDENTIAL.len()
        && ENCRYPTED_CREDENTIAL.as_bytes()[ENCRYPTED_STORE.len()] == b'/'
);

/// The key a run outside the service takes when given none: the one the
/// service uses, so that a manual run or `--check` agrees with it. The
/// credential systemd would load, else the default autokey, as the service.
pub(super) fn service_key() -> Result<Source, KeyError> {
    Ok(stored(CREDENTIAL)?.unwrap_or_else(|| Source::Autokey(DEFAULT_AUTOKEY.into())))
}

/// The credential `name` as systemd would load it for the service: the
/// plain file in the first credstore that has one, as a key file; `None`
/// when no store has it; an error for an encrypted one, which only systemd
/// can read.
pub(super) fn stored(name: &str) -> Result<Option<Source>, KeyError> {
    stored_in(Path::new(ENCRYPTED_STORE), &CREDSTORES.map(Path::new), name)
}

/// `stored` over the given stores: the encrypted one, then the plain ones
/// in order.
pub(super) fn stored_in(
    encrypted_store: &Path,
    plain_stores: &[&Path],
    name: &str,
) -> Result<Option<Source>, KeyError> {
    let encrypted = encrypted_store.join(name);
    let plain = plain_stores.iter().map(|dir| dir.join(name));
    for path in std::iter::once(encrypted.clone()).chain(plain) {
        match fs::symlink_metadata(&path) {
            Ok(_) if path == encrypted => {
                return Err(KeyError::ServiceKey { path, why: None });
            }
            Ok(_) => return Ok(Some(Source::File(path))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Not root, say: whether it is there cannot be told.
            Err(e) => return Err(KeyError::ServiceKey { path, why: Some(e) }),
        }
    }
    Ok(None)
}

/// Where the admin keeps credential `name`: the first plain store, and the
/// encrypted one.
pub(super) fn admin_files(name: &str) -> (PathBuf, PathBuf) {
    (
        Path::new(CREDSTORES[0]).join(name),
        Path::new(ENCRYPTED_STORE).join(name),
    )
}

/// True when `path` is a store's own file (read without systemd's copy,
/// as a manual run reads it), which names itself.
pub(super) fn in_a_store(path: &Path) -> bool {
    path.parent().is_some_and(|dir| {
        CREDSTORES.iter().any(|s| Path::new(s) == dir) || dir == Path::new(ENCRYPTED_STORE)
    })
}
