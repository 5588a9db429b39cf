//! Where the main key comes from: a key file (`-k`), standard input
//! (`-k -`), the systemd credential `tofurkey.key`, or the local autokey,
//! made on first use.
//!
//! Loading is two steps, so that signals are held only while key bytes are
//! in memory: [`open`] finds, opens and checks the source and reads nothing
//! (it never blocks, save a bounded wait for a pipe); [`Opened::read`] reads
//! the bytes, or makes and stores a new autokey.
//!
//! What is trusted: a key file or credential owned by root or the running
//! user and writable by no one else (readable by others: a warning); an
//! autokey owned by the running user with no group or other permission.
//! Anything else could have been written, or read, by another local user.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;

use crate::fileio::{self, Kind, WRITABLE_BY_OTHERS, dir_of, openat, os_error, trusted_owner};
use crate::keys::{MAIN_KEY_LEN, MainKey};
use crate::options::KeySpec;
use crate::secret::Secret;

/// The credential name systemd units pass the main key under.
pub const CREDENTIAL: &str = "tofurkey.key";
/// Where the autokey lives unless `-a` says otherwise: tmpfs, so a reboot
/// forgets it, as 1.3.4 (built with rundir=/run).
pub const DEFAULT_AUTOKEY: &str = "/run/tofurkey.autokey";

/// How long a key piped in on standard input may take to arrive. A pipe
/// whose writer is gone ends at once; this bounds a writer that stalls.
pub const PIPE_WAIT: Duration = Duration::from_secs(5);

/// Permission bits that let group or others read a file.
const READABLE_BY_OTHERS: u32 = 0o044;
/// Any group or other permission: an autokey must have none.
const ANY_OTHERS: u32 = 0o077;
// Writable or readable by others are both kinds of "any group or other".
const _: () = assert!((WRITABLE_BY_OTHERS | READABLE_BY_OTHERS) & !ANY_OTHERS == 0);

/// A resolved main key source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A key file given with `-k`.
    File(PathBuf),
    /// Standard input (`-k -` or `-k /dev/stdin`): a pipe or a file.
    Stdin,
    /// `$CREDENTIALS_DIRECTORY/tofurkey.key`.
    Credential(PathBuf),
    /// A local autokey (made if missing).
    Autokey(PathBuf),
}

impl Source {
    /// Picks the source: `-k`; else, unless `-a` was given, the credential
    /// when `$CREDENTIALS_DIRECTORY` (its value is `credentials_dir`) holds
    /// one; else the autokey.
    ///
    /// A credential present in any form (even a broken link) is chosen, so
    /// that a bad one fails loudly; and a variable that is set but names no
    /// usable directory is an error. Only a usable directory without
    /// `tofurkey.key` falls back to the host-local autokey.
    pub fn choose(spec: &KeySpec, credentials_dir: Option<OsString>) -> Result<Source, KeyError> {
        let dir = match (spec, credentials_dir) {
            (KeySpec::File(p), _) => return Ok(Source::File(p.clone())),
            (KeySpec::Stdin, _) => return Ok(Source::Stdin),
            (KeySpec::Autokey(p), _) => return Ok(Source::Autokey(p.clone())),
            (KeySpec::Default, None) => return Ok(Source::Autokey(DEFAULT_AUTOKEY.into())),
            (KeySpec::Default, Some(dir)) => PathBuf::from(dir),
        };
        let unusable = |why| KeyError::CredentialsDir {
            path: dir.clone(),
            why,
        };
        // It must be there: a missing one would look like "no credential".
        fs::metadata(&dir).map_err(unusable)?;
        let cred = dir.join(CREDENTIAL);
        match fs::symlink_metadata(&cred) {
            Ok(_) => Ok(Source::Credential(cred)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Ok(Source::Autokey(DEFAULT_AUTOKEY.into()))
            }
            // Not a directory (ENOTDIR), or unsearchable: whether a
            // credential is there is unknown.
            Err(e) => Err(unusable(e)),
        }
    }

    /// What the log calls it: a path, or the credential's name. Never a byte
    /// of the key.
    pub fn label(&self) -> String {
        let (what, path) = match self {
            Source::File(p) => ("key file ", p.to_string_lossy()),
            Source::Stdin => ("standard input", "".into()),
            Source::Credential(_) => ("credential ", CREDENTIAL.into()),
            Source::Autokey(p) => ("autokey ", p.to_string_lossy()),
        };
        // Every run makes it: one allocation, no formatting.
        let mut label = String::with_capacity(what.len() + path.len());
        label.push_str(what);
        label.push_str(&path);
        label
    }

    /// What an error calls it: the kind of source and its full path.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => format!("main key file {}", p.display()),
            Source::Stdin => "standard input".into(),
            Source::Credential(p) => format!("credential {}", p.display()),
            Source::Autokey(p) => format!("autokey {}", p.display()),
        }
    }
}

/// Why no main key could be had. Each names the source, never its bytes.
#[derive(Debug)]
pub enum KeyError {
    /// It could not be opened or read.
    Read {
        /// Which source.
        source: Source,
        /// The OS error.
        why: io::Error,
    },
    /// Not a regular file (or, for standard input, a pipe).
    NotFile {
        /// Which source.
        source: Source,
        /// What it is instead.
        kind: Kind,
    },
    /// Fewer than 32 bytes.
    Short {
        /// Which source.
        source: Source,
        /// How many bytes it had.
        len: usize,
    },
    /// 32 zero bytes: a placeholder, not a secret.
    Zero {
        /// Which source.
        source: Source,
    },
    /// A key file owned by another user, who could have written it.
    Owner {
        /// Which source.
        source: Source,
        /// Its owner's uid.
        owner: u32,
        /// The running user's uid.
        user: u32,
    },
    /// A key file that group or others may write.
    Writable {
        /// Which source.
        source: Source,
        /// Its permission bits.
        mode: u32,
    },
    /// An existing autokey that is not the running user's alone.
    AutokeyForeign {
        /// Which file.
        path: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// Its permission bits.
        mode: u32,
        /// The running user's uid.
        user: u32,
    },
    /// Standard input gave fewer than 32 bytes within [`PIPE_WAIT`].
    StdinTimeout {
        /// How many bytes came.
        len: usize,
    },
    /// `$CREDENTIALS_DIRECTORY` is set but is not a usable directory.
    CredentialsDir {
        /// Its value.
        path: PathBuf,
        /// Why it cannot be used.
        why: io::Error,
    },
    /// A new autokey could not be made or stored.
    Autokey {
        /// Which file.
        path: PathBuf,
        /// The step that failed.
        step: &'static str,
        /// The OS error.
        why: io::Error,
    },
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Read { source, why } => {
                write!(f, "cannot read {}: {}", source.name(), os_error(why))
            }
            KeyError::NotFile {
                source: Source::Stdin,
                kind,
            } => write!(
                f,
                "standard input is a {}, not a regular file or a pipe",
                kind.name()
            ),
            KeyError::NotFile { source, kind } => write!(
                f,
                "{} is a {}, not a regular file",
                source.name(),
                kind.name()
            ),
            KeyError::Short {
                source: Source::Autokey(path),
                len,
            } => write!(
                f,
                "autokey {} holds {len} bytes, needs {MAIN_KEY_LEN}",
                path.display()
            ),
            KeyError::Short { source, len } => write!(
                f,
                "{} holds {len} bytes, needs at least {MAIN_KEY_LEN}",
                source.name()
            ),
            KeyError::Zero { source } => write!(
                f,
                "{} is {MAIN_KEY_LEN} zero bytes, a placeholder, not a secret",
                source.name()
            ),
            KeyError::Owner {
                source,
                owner,
                user,
            } => write!(
                f,
                "{} is owned by uid {owner}, neither root nor the running user (uid {user}), \
                 who could have written it",
                source.name()
            ),
            KeyError::Writable { source, mode } => write!(
                f,
                "{} has mode {mode:04o}: group or others could have written it",
                source.name()
            ),
            KeyError::AutokeyForeign {
                path,
                owner,
                mode,
                user,
            } => write!(
                f,
                "autokey {} has owner uid {owner} and mode {mode:04o}, but must belong to the \
                 running user (uid {user}) with mode 0600: someone else may know it",
                path.display()
            ),
            KeyError::StdinTimeout { len } => write!(
                f,
                "standard input gave {len} of {MAIN_KEY_LEN} bytes in {} s",
                PIPE_WAIT.as_secs()
            ),
            KeyError::CredentialsDir { path, why } => write!(
                f,
                "CREDENTIALS_DIRECTORY '{}' is not a usable directory: {}",
                path.display(),
                os_error(why)
            ),
            KeyError::Autokey { path, step, why } => write!(
                f,
                "cannot create autokey {} ({step}): {}",
                path.display(),
                os_error(why)
            ),
        }
    }
}

/// The main key and whether this run just created it (a fresh autokey).
pub struct Loaded {
    /// The key.
    pub key: MainKey,
    /// True when a new autokey was made and stored by this run.
    pub created: bool,
}

/// A key source opened and checked, not read yet.
pub struct Opened {
    source: Source,
    input: Input,
}

enum Input {
    /// A regular file: a key file, a credential, standard input redirected
    /// from a file, or an existing autokey.
    File(File),
    /// Standard input as a pipe, to be read before the deadline.
    Pipe(NonBlocking, Instant),
    /// No autokey yet: a new one goes into `tmp`, an unnamed file
    /// (`O_TMPFILE`) or else the `named` one, and is then linked in as
    /// `name` in `dir`.
    NewAutokey {
        dir: File,
        name: PathBuf,
        tmp: File,
        named: Option<Named>,
    },
}

/// Opens and checks `source`, reading none of its bytes. With `create`
/// (normal runs) a missing autokey is prepared for; without (`--check`) it
/// is an error. Returns the warnings the admin should see (a key file that
/// others may read).
pub fn open(source: &Source, create: bool) -> Result<(Opened, Vec<String>), KeyError> {
    let mut warnings = Vec::new();
    let input = match source {
        Source::File(p) | Source::Credential(p) => {
            Input::File(open_key_file(source, p, &mut warnings)?)
        }
        Source::Stdin => open_stdin(&mut warnings)?,
        Source::Autokey(p) => open_autokey(source, p, create)?,
    };
    let opened = Opened {
        source: source.clone(),
        input,
    };
    Ok((opened, warnings))
}

impl Opened {
    /// Reads the key (at most 32 bytes: the first 32 count), or makes,
    /// stores and returns a new autokey. A key of 32 zero bytes is refused.
    pub fn read(self) -> Result<Loaded, KeyError> {
        let source = self.source;
        let read_err = |why| KeyError::Read {
            source: source.clone(),
            why,
        };
        let mut buf = Secret::<MAIN_KEY_LEN>::zeroed();
        let len = match self.input {
            Input::File(mut file) => {
                fileio::read_up_to(&mut file, &mut buf[..]).map_err(read_err)?
            }
            Input::Pipe(mut pipe, deadline) => {
                let (len, late) =
                    read_pipe(&mut pipe.0, &mut buf[..], deadline).map_err(read_err)?;
                if late {
                    // The writer is still there but sent too little in time.
                    return Err(KeyError::StdinTimeout { len });
                }
                len
            }
            Input::NewAutokey {
                dir,
                name,
                tmp,
                named,
            } => {
                return store_autokey(&source, &dir, &name, tmp, named.as_ref());
            }
        };
        if len < MAIN_KEY_LEN {
            return Err(KeyError::Short { source, len });
        }
        if buf.iter().all(|&b| b == 0) {
            return Err(KeyError::Zero { source });
        }
        Ok(Loaded {
            key: MainKey::new(*buf),
            created: false,
        })
    }
}

/// A key file or credential: a regular file (links followed) that no other
/// user could have written.
fn open_key_file(
    source: &Source,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<File, KeyError> {
    let file = fileio::open_regular(path, false).map_err(|e| match e {
        fileio::OpenError::Io(why) => KeyError::Read {
            source: source.clone(),
            why,
        },
        fileio::OpenError::NotRegular(kind) => KeyError::NotFile {
            source: source.clone(),
            kind,
        },
    })?;
    let meta = file.metadata().map_err(|why| KeyError::Read {
        source: source.clone(),
        why,
    })?;
    trust_key_file(source, &meta, warnings)?;
    Ok(file)
}

/// ssh's rule for private keys, applied to the main key: the owner is root
/// or the running user, and no one else may write it; others reading it is
/// a warning (they could compute every key), not a refusal.
fn trust_key_file(
    source: &Source,
    meta: &fs::Metadata,
    warnings: &mut Vec<String>,
) -> Result<(), KeyError> {
    let (owner, mode) = (meta.uid(), meta.mode() & 0o7777);
    if !trusted_owner(owner) {
        return Err(KeyError::Owner {
            source: source.clone(),
            owner,
            user: euid(),
        });
    }
    if mode & WRITABLE_BY_OTHERS != 0 {
        return Err(KeyError::Writable {
            source: source.clone(),
            mode,
        });
    }
    if mode & READABLE_BY_OTHERS != 0 {
        // The advice names the file itself, not a link to it.
        let real = match source {
            Source::File(p) | Source::Credential(p) => fs::canonicalize(p).ok(),
            _ => None,
        };
        let file = real.map_or("FILE".into(), |p| p.display().to_string());
        warnings.push(format!(
            "{} has mode {mode:04o}: group or others can read the main key and compute every \
             key; 'chmod go= {file}'",
            source.name()
        ));
    }
    Ok(())
}

/// Standard input: a file redirected in (checked as a key file), or a pipe
/// (whoever holds its other end is the one who ran the command, so no owner
/// check). The pipe is waited on here, before any byte is read, for at most
/// [`PIPE_WAIT`]; a pipe whose writer is gone is ready at once.
fn open_stdin(warnings: &mut Vec<String>) -> Result<Input, KeyError> {
    let read_err = |why| KeyError::Read {
        source: Source::Stdin,
        why,
    };
    let file = File::from(io::stdin().as_fd().try_clone_to_owned().map_err(read_err)?);
    let meta = file.metadata().map_err(read_err)?;
    match Kind::of_mode(meta.mode()) {
        None => {
            trust_key_file(&Source::Stdin, &meta, warnings)?;
            Ok(Input::File(file))
        }
        Some(Kind::Fifo) => {
            // Non-blocking while we read, so that a read after poll(2) cannot
            // block if another reader took the bytes first; the flags are
            // put back when the pipe is dropped (the description may be
            // shared with whoever started us).
            let file = NonBlocking::new(file).map_err(read_err)?;
            let deadline = Instant::now() + PIPE_WAIT;
            if !wait_readable(&file.0, deadline).map_err(read_err)? {
                return Err(KeyError::StdinTimeout { len: 0 });
            }
            Ok(Input::Pipe(file, deadline))
        }
        Some(kind) => Err(KeyError::NotFile {
            source: Source::Stdin,
            kind,
        }),
    }
}

/// A pipe made non-blocking, its file status flags put back on drop.
struct NonBlocking(File, OFlag);

impl NonBlocking {
    fn new(file: File) -> io::Result<NonBlocking> {
        let flags = OFlag::from_bits_retain(fcntl(file.as_raw_fd(), FcntlArg::F_GETFL)?);
        fcntl(
            file.as_raw_fd(),
            FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
        )?;
        Ok(NonBlocking(file, flags))
    }
}

impl Drop for NonBlocking {
    fn drop(&mut self) {
        let _ = fcntl(self.0.as_raw_fd(), FcntlArg::F_SETFL(self.1));
    }
}

/// Waits until `file` can be read (data, or the writer gone) or `deadline`
/// passes; true when readable.
fn wait_readable(file: &File, deadline: Instant) -> io::Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads a pipe into `buf` until it is full, it ends, or `deadline`
/// passes; returns the length and whether the deadline cut it short.
fn read_pipe(file: &mut File, buf: &mut [u8], deadline: Instant) -> io::Result<(usize, bool)> {
    let mut len = 0;
    while len < buf.len() {
        if !wait_readable(file, deadline)? {
            return Ok((len, true));
        }
        match io::Read::read(file, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            // Taken by another reader, or a signal: wait again.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((len, false))
}

/// The autokey: an existing one, checked; or, when missing and `create`,
/// an unnamed file in its directory, ready to receive a new key.
///
/// No lock is taken: concurrent first runs each make a key, and the link
/// that puts one in place fails for all but the first (`linkat` never
/// replaces a file), so the others then read the winner's. A crash leaves
/// nothing behind: the unnamed file vanishes with the process.
fn open_autokey(source: &Source, path: &Path, create: bool) -> Result<Input, KeyError> {
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
            true => fail("open directory", why),
            // --check makes nothing: a missing directory is a missing key.
            false => KeyError::Read {
                source: source.clone(),
                why,
            },
        })?;
    match open_existing_autokey(source, path, &dir, &name) {
        Err(KeyError::Read { why, .. }) if create && why.kind() == io::ErrorKind::NotFound => {}
        other => return other.map(Input::File),
    }
    let owner_only = Mode::S_IRUSR | Mode::S_IWUSR;
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
            getrandom::fill(&mut random).map_err(|e| fail("get random bytes", e.into()))?;
            let mut tmp_name = OsString::from(".");
            tmp_name.push(&name);
            tmp_name.push(format!(".{}.tmp", hex::encode(random)));
            let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY;
            let tmp = openat(&dir, Path::new(&tmp_name), flags, owner_only)
                .map_err(|e| fail("create temporary file", e))?;
            let dir = dir
                .try_clone()
                .map_err(|e| fail("create temporary file", e))?;
            (
                tmp,
                Some(Named {
                    dir,
                    name: tmp_name.into(),
                }),
            )
        }
        Err(e) => return Err(fail("create unnamed file", e)),
    };
    // The umask may have taken bits from 0600 (even the owner's read bit,
    // which would make the key unusable to a non-root owner): set it again.
    tmp.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| fail("set mode 0600", e))?;
    Ok(Input::NewAutokey {
        dir,
        name,
        tmp,
        named,
    })
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
            Some(self.dir.as_raw_fd()),
            &self.name,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }
}

/// Opens the autokey `name` in `dir` if it is a regular file of the running
/// user's with no group or other permission: never through a link, never a
/// FIFO or device (checked before the open and again on the fd).
fn open_existing_autokey(
    source: &Source,
    path: &Path,
    dir: &File,
    name: &Path,
) -> Result<File, KeyError> {
    let read_err = |why| KeyError::Read {
        source: source.clone(),
        why,
    };
    let check = |mode: u32, owner: u32| -> Result<(), KeyError> {
        if let Some(kind) = Kind::of_mode(mode) {
            return Err(KeyError::NotFile {
                source: source.clone(),
                kind,
            });
        }
        let (mode, user) = (mode & 0o7777, euid());
        if owner != user || mode & ANY_OTHERS != 0 {
            return Err(KeyError::AutokeyForeign {
                path: path.to_path_buf(),
                owner,
                mode,
                user,
            });
        }
        Ok(())
    };
    let st = nix::sys::stat::fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| read_err(e.into()))?;
    check(st.st_mode, st.st_uid)?;
    let file = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    check(meta.mode(), meta.uid())?;
    Ok(file)
}

/// Makes a new key, writes and syncs it into `tmp`, then links it in as
/// `name`. If another run linked its key first, that key is used.
fn store_autokey(
    source: &Source,
    dir: &File,
    name: &Path,
    mut tmp: File,
    named: Option<&Named>,
) -> Result<Loaded, KeyError> {
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
    getrandom::fill(&mut bytes[..]).map_err(|e| fail("get random bytes", e.into()))?;
    tmp.write_all(&bytes[..]).map_err(|e| fail("write", e))?;
    tmp.sync_all().map_err(|e| fail("sync", e))?;
    // An O_TMPFILE file is linked in through its /proc/self/fd entry
    // (open(2)); linking by fd alone would need CAP_DAC_READ_SEARCH. Neither
    // kind of link replaces a file that is there.
    let proc_fd = PathBuf::from(format!("/proc/self/fd/{}", tmp.as_raw_fd()));
    let (from_dir, from, follow) = match named {
        Some(n) => (Some(dir.as_raw_fd()), n.name.as_path(), AtFlags::empty()),
        None => (None, proc_fd.as_path(), AtFlags::AT_SYMLINK_FOLLOW),
    };
    match nix::unistd::linkat(from_dir, from, Some(dir.as_raw_fd()), name, follow) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            // Another run stored its key first: use that one, checked and
            // read as any existing autokey is.
            let input = Input::File(open_existing_autokey(source, path, dir, name)?);
            let source = source.clone();
            return Opened { source, input }.read();
        }
        Err(e) => return Err(fail("link into place", e.into())),
    }
    dir.sync_all().map_err(|e| fail("sync directory", e))?;
    Ok(Loaded {
        key: MainKey::new(*bytes),
        created: true,
    })
}

/// The effective uid: the user files are checked against.
fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_order() {
        let k = KeySpec::File("/k".into());
        let a = KeySpec::Autokey("/a".into());
        let dir = std::env::temp_dir().join(format!("tofurkey-choose-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let with = Some(dir.clone().into_os_string());
        // No credential file yet: autokey.
        assert_eq!(
            Source::choose(&KeySpec::Default, with.clone()).unwrap(),
            Source::Autokey(DEFAULT_AUTOKEY.into())
        );
        fs::write(dir.join(CREDENTIAL), [1u8; 32]).unwrap();
        assert_eq!(
            Source::choose(&k, with.clone()).unwrap(),
            Source::File("/k".into())
        );
        assert_eq!(
            Source::choose(&a, with.clone()).unwrap(),
            Source::Autokey("/a".into())
        );
        assert_eq!(
            Source::choose(&KeySpec::Stdin, with.clone()).unwrap(),
            Source::Stdin
        );
        assert_eq!(
            Source::choose(&KeySpec::Default, with).unwrap(),
            Source::Credential(dir.join(CREDENTIAL))
        );
        assert_eq!(
            Source::choose(&KeySpec::Default, None).unwrap(),
            Source::Autokey(DEFAULT_AUTOKEY.into())
        );
        assert_eq!(
            Source::label(&Source::Credential(dir.join(CREDENTIAL))),
            "credential tofurkey.key"
        );
        // Set, but not a directory: an error, not the autokey.
        let not_dir = Some(dir.join(CREDENTIAL).into_os_string());
        assert!(matches!(
            Source::choose(&KeySpec::Default, not_dir),
            Err(KeyError::CredentialsDir { .. })
        ));
        assert!(matches!(
            Source::choose(&KeySpec::Default, Some(OsString::new())),
            Err(KeyError::CredentialsDir { .. })
        ));
        fs::remove_dir_all(dir).unwrap();
    }
}
