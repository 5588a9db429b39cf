//! Where systemd keeps the service's credential `tofurkey.key`: a manual
//! run given no key takes the one the service would load, and a message
//! about a credential's bytes names the admin's file, not systemd's copy.

use std::fs;
use std::io;
use std::path::Path;

use super::{CREDENTIAL, DEFAULT_AUTOKEY, KeyError, Source};

/// Where `LoadCredential=tofurkey.key` finds the service's key, in
/// systemd's order, for a run outside the service given no key.
pub const CREDSTORES: [&str; 3] = ["/etc/credstore", "/run/credstore", "/usr/lib/credstore"];
/// The encrypted key tofurkey-generator makes the service load.
pub const ENCRYPTED_CREDENTIAL: &str = "/etc/credstore.encrypted/tofurkey.key";

/// The key a run outside the service takes when given none: the one the
/// service uses, so that a manual run or `--check` agrees with it. The
/// credential systemd would load (the plain file in the first credstore
/// that has one; an encrypted one only systemd can read, an error), else
/// the default autokey, as the service.
pub(super) fn service_key() -> Result<Source, KeyError> {
    let encrypted = Path::new(ENCRYPTED_CREDENTIAL);
    let candidates = std::iter::once(encrypted.to_path_buf())
        .chain(CREDSTORES.iter().map(|dir| Path::new(dir).join(CREDENTIAL)));
    for path in candidates {
        match fs::symlink_metadata(&path) {
            Ok(_) if path == encrypted => {
                return Err(KeyError::ServiceKey { path, why: None });
            }
            Ok(_) => return Ok(Source::File(path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Not root, say: whether it is there cannot be told.
            Err(e) => return Err(KeyError::ServiceKey { path, why: Some(e) }),
        }
    }
    Ok(Source::Autokey(DEFAULT_AUTOKEY.into()))
}

/// True when `path` is a store's own file (read without systemd's copy,
/// as a manual run reads it), which names itself.
pub(super) fn in_a_store(path: &Path) -> bool {
    let encrypted = Path::new(ENCRYPTED_CREDENTIAL).parent();
    path.parent()
        .is_some_and(|dir| CREDSTORES.iter().any(|s| Path::new(s) == dir) || Some(dir) == encrypted)
}
