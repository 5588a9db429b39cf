//! The autokey (`-a`, or the default without `-k` or a credential): a key
//! of this host's own, made on first use. [`open`] finds an existing one (checked: a regular file, the running
//! user's, no group or other permission; never through a link) or prepares
//! a new one; [`NewAutokey::store`] makes, stores and returns it.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;

use super::{AutokeyStep, Input, KeyError, Loaded, Opened, Source, trust_autokey};
use crate::fileio::{Kind, dir_of, openat};
use crate::keydir::KEY_FILE_MODE;
use crate::keys::{MAIN_KEY_LEN, MainKey};
use crate::secret::Secret;

/// The autokey: an existing one, checked; or, when missing and `create`,
/// an unnamed file in its directory, ready to receive a new key.
///
/// No lock is taken: concurrent first runs each make a key, and the link
/// that puts one in place fails for all but the first (`linkat` never
/// replaces a file), so the others then read the winner's. A crash leaves
/// nothing behind: the unnamed file vanishes with the process.
pub(super) fn open(source: &Source, path: &Path, create: bool) -> Result<Input, KeyError> {
    let fail = |step, why| KeyError::Autokey {
        path: path.to_path_buf(),
        step,
        why,
    };
    let name = match path.file_name() {
        Some(n) => PathBuf::from(n),
        None => {
            return Err(KeyError::NotFile {
                source: source.clone(),
                kind: Kind::Directory,
            });
        }
    };
    let dir_path = dir_of(path);
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir_path)
        .map_err(|why| match create {
            true => fail(AutokeyStep::OpenDirectory, why),
            // --check makes nothing: a missing directory is a missing key.
            false => KeyError::Read {
                source: source.clone(),
                why,
            },
        })?;
    match open_existing(source, path, &dir, &name) {
        Err(KeyError::Read { why, .. }) if create && why.kind() == io::ErrorKind::NotFound => {}
        other => return other.map(Input::File),
    }
    let owner_only = Mode::from_bits_truncate(KEY_FILE_MODE);
    let (tmp, named) = match openat(
        &dir,
        Path::new("."),
        OFlag::O_TMPFILE | OFlag::O_WRONLY,
        owner_only,
    ) {
        Ok(tmp) => (tmp, None),
        // No O_TMPFILE here (overlayfs before Linux 6.6, NFS): a file of a
        // random name, made with O_EXCL, so that nothing another user
        // pre-created can be it; removed once the key is linked in (a
        // crash can leave it: 0600, the running user's).
        Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR)) => {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random)
                .map_err(|e| fail(AutokeyStep::GetRandomBytes, e.into()))?;
            let mut tmp_name = OsString::from(".");
            tmp_name.push(&name);
            tmp_name.push(format!(".{}.tmp", hex::encode(random)));
            let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY;
            let tmp = openat(&dir, Path::new(&tmp_name), flags, owner_only)
                .map_err(|e| fail(AutokeyStep::CreateTemporaryFile, e))?;
            let dir = dir
                .try_clone()
                .map_err(|e| fail(AutokeyStep::CreateTemporaryFile, e))?;
            (
                tmp,
                Some(Named {
                    dir,
                    name: tmp_name.into(),
                }),
            )
        }
        Err(e) => return Err(fail(AutokeyStep::CreateUnnamedFile, e)),
    };
    // The umask may have taken bits from its mode (even the owner's read bit,
    // which would make the key unusable to a non-root owner): set it again.
    tmp.set_permissions(fs::Permissions::from_mode(KEY_FILE_MODE))
        .map_err(|e| fail(AutokeyStep::SetMode, e))?;
    Ok(Input::NewAutokey(NewAutokey {
        dir,
        name,
        tmp,
        named,
    }))
}

/// No autokey yet: a new one goes into `tmp`, an unnamed file (`O_TMPFILE`)
/// or else the `named` one, and is then linked in as `name` in `dir`.
pub(super) struct NewAutokey {
    dir: File,
    name: PathBuf,
    tmp: File,
    named: Option<Named>,
}

/// A temporary file with a name, where there is no O_TMPFILE: removed when
/// this is dropped, whatever became of the run.
struct Named {
    dir: File,
    name: PathBuf,
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = nix::unistd::unlinkat(
            &self.dir,
            &self.name,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }
}

/// Opens the autokey `name` in `dir` if it is a regular file of the running
/// user's with no group or other permission: never through a link, never a
/// FIFO or device (checked before the open and again on the fd).
fn open_existing(source: &Source, path: &Path, dir: &File, name: &Path) -> Result<File, KeyError> {
    let read_err = |why| KeyError::Read {
        source: source.clone(),
        why,
    };
    let st = nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| read_err(e.into()))?;
    trust_autokey(source, path, st.st_mode, st.st_uid)?;
    let file = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    trust_autokey(source, path, meta.mode(), meta.uid())?;
    Ok(file)
}

impl NewAutokey {
    /// Makes a new key, writes and syncs it into the file prepared, then
    /// links it in. If another run linked its key first, that key is used.
    pub(super) fn store(self, source: &Source) -> Result<Loaded, KeyError> {
        let NewAutokey {
            dir,
            name,
            mut tmp,
            named,
        } = self;
        let path = match source {
            Source::Autokey(p) => p.as_path(),
            _ => unreachable!("only autokeys are stored"),
        };
        let fail = |step, why| KeyError::Autokey {
            path: path.to_path_buf(),
            step,
            why,
        };
        let mut bytes = Secret::<MAIN_KEY_LEN>::zeroed();
        // The kernel's CSPRNG (getrandom(2)); it blocks only until it is seeded,
        // at early boot.
        getrandom::fill(&mut bytes[..]).map_err(|e| fail(AutokeyStep::GetRandomBytes, e.into()))?;
        tmp.write_all(&bytes[..])
            .map_err(|e| fail(AutokeyStep::Write, e))?;
        tmp.sync_all().map_err(|e| fail(AutokeyStep::Sync, e))?;
        // An O_TMPFILE file is linked in through its /proc/self/fd entry
        // (open(2)); linking by fd alone would need CAP_DAC_READ_SEARCH. Neither
        // kind of link replaces a file that is there.
        let proc_fd = PathBuf::from(format!("/proc/self/fd/{}", tmp.as_raw_fd()));
        let (from_dir, from, follow) = match &named {
            Some(n) => (dir.as_fd(), n.name.as_path(), AtFlags::empty()),
            None => (
                nix::fcntl::AT_FDCWD,
                proc_fd.as_path(),
                AtFlags::AT_SYMLINK_FOLLOW,
            ),
        };
        match nix::unistd::linkat(from_dir, from, &dir, name.as_path(), follow) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                // Another run stored its key first: use that one, checked and
                // read as any existing autokey is.
                let input = Input::File(open_existing(source, path, &dir, &name)?);
                let source = source.clone();
                return Opened { source, input }.read();
            }
            Err(e) => return Err(fail(AutokeyStep::LinkIntoPlace, e.into())),
        }
        dir.sync_all()
            .map_err(|e| fail(AutokeyStep::SyncDirectory, e))?;
        Ok(Loaded {
            key: MainKey::new(*bytes),
            created: true,
            warnings: Vec::new(),
        })
    }
}
