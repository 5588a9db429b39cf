//! `Source::choose`, then `keysource::open` for a check and `read`, over a
//! credentials directory built from the input: `$CREDENTIALS_DIRECTORY`
//! unset, empty, the directory, with a trailing slash, or missing;
//! `tofurkey.key` absent, a file (mode 0600) of arbitrary bytes, a
//! directory, a FIFO, or a symlink to any of those, dangling or looping.
//! The key may also be named with `-k` or `-a`.
//!
//! Expected answers come from how the input built the directory, not from
//! asking the file system again. Loading never creates anything (a check's
//! purpose) and the default autokey in /run is never read: only the
//! scratch directory is touched.
#![no_main]

use std::ffi::OsString;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tofurkey::fileio::Kind;
use tofurkey::keys::{MAIN_KEY_LEN, MainKey};
use tofurkey::keysource::{self, CREDENTIAL, DEFAULT_AUTOKEY, KeyError, Purpose, Source};
use tofurkey::options::KeySpec;

/// What `tofurkey.key` is, as the input chose it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Entry {
    Absent,
    File,
    Dir,
    Fifo,
    LinkToFile,
    LinkToDir,
    LinkToFifo,
    Dangling,
    Loop,
}

const ENTRIES: [Entry; 9] = [
    Entry::Absent,
    Entry::File,
    Entry::Dir,
    Entry::Fifo,
    Entry::LinkToFile,
    Entry::LinkToDir,
    Entry::LinkToFifo,
    Entry::Dangling,
    Entry::Loop,
];

/// What loading should answer for an entry holding `bytes`.
#[derive(Debug, PartialEq)]
enum Want {
    Key,
    Zero,
    Short(usize),
    NotFile(Kind),
    Read(Option<ErrorKind>),
}

fuzz_target!(|data: &[u8]| {
    let [env_form, entry, spec, bytes @ ..] = data else {
        return;
    };
    let entry = ENTRIES[usize::from(*entry) % ENTRIES.len()];
    let dir = tofurkey_fuzz::scratch("credential_dir");
    let cred = dir.join(CREDENTIAL);
    build(&dir, &cred, entry, bytes);

    let env: Option<OsString> = match env_form % 5 {
        0 => None,
        1 => Some(OsString::new()),
        2 => Some(dir.clone().into()),
        3 => Some(format!("{}/", dir.display()).into()),
        _ => Some(dir.join("missing").into()),
    };
    let spec = match spec % 3 {
        0 => KeySpec::Default,
        1 => KeySpec::File(cred.clone()),
        _ => KeySpec::Autokey(cred.clone()),
    };
    let source = match (&spec, Source::choose(&spec, env), env_form % 5) {
        (KeySpec::File(_), Ok(s @ Source::File(_)), _) => s,
        (KeySpec::Autokey(_), Ok(s @ Source::Autokey(_)), _) => s,
        // Set but not a usable directory: an error, never the autokey.
        (KeySpec::Default, Err(KeyError::CredentialsDir { .. }), 1 | 4) => return,
        // Present in any form, even broken: the credential, never a silent
        // fall back to a host-local key.
        (KeySpec::Default, Ok(s @ Source::Credential(_)), 2 | 3) if entry != Entry::Absent => s,
        // Unset, or a usable directory without the credential: the autokey.
        (KeySpec::Default, Ok(Source::Autokey(p)), form)
            if (form == 0 || entry == Entry::Absent) && p == Path::new(DEFAULT_AUTOKEY) =>
        {
            return;
        }
        (_, got, form) => panic!("{spec:?} with {entry:?}, env form {form}: chose {got:?}"),
    };
    let autokey = matches!(source, Source::Autokey(_));
    if let Source::File(p) | Source::Credential(p) | Source::Autokey(p) = &source {
        assert!(p.starts_with(&dir), "{source:?}");
    }

    let got = keysource::open(&source, Purpose::check(false)).and_then(|(opened, _)| opened.read());
    let want = expect(entry, bytes, autokey);
    match (&got, &want) {
        (Ok(loaded), Want::Key) => {
            assert!(!loaded.created, "open for a check made a key");
            let first = MainKey::new(bytes[..MAIN_KEY_LEN].try_into().unwrap());
            assert_eq!(loaded.key.fingerprint(), first.fingerprint());
        }
        (Err(KeyError::Zero { source: s }), Want::Zero) => assert_eq!(*s, source),
        (Err(KeyError::Short { len, source: s }), Want::Short(n)) => {
            assert_eq!((len, s), (n, &source));
        }
        (Err(KeyError::NotFile { kind, source: s }), Want::NotFile(k)) => {
            assert_eq!((kind, s), (k, &source));
        }
        (Err(KeyError::Read { why, source: s }), Want::Read(kind)) => {
            assert_eq!(*s, source);
            if let Some(kind) = kind {
                assert_eq!(why.kind(), *kind, "{why}");
            }
        }
        _ => panic!(
            "{entry:?} with {} bytes: want {want:?}, got {:?}",
            bytes.len(),
            got.err()
        ),
    }
    // The message names the file, never its bytes. (Raw bytes are not
    // compared: an input may spell a word of the message itself.)
    if let (Err(e), Some(first)) = (got, bytes.get(..8)) {
        let hex: String = first.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!e.to_string().to_lowercase().contains(&hex), "{e}");
    }
});

/// Makes `cred` the chosen entry; its targets live beside it.
fn build(dir: &Path, cred: &Path, entry: Entry, bytes: &[u8]) {
    let file = dir.join("real.key");
    let sub = dir.join("real.dir");
    let fifo = dir.join("real.fifo");
    let result = match entry {
        Entry::Absent => Ok(()),
        Entry::File => write_key(cred, bytes),
        Entry::Dir => fs::create_dir(cred),
        Entry::Fifo => mkfifo(cred),
        Entry::LinkToFile => write_key(&file, bytes).and_then(|()| symlink(&file, cred)),
        Entry::LinkToDir => fs::create_dir(&sub).and_then(|()| symlink(&sub, cred)),
        Entry::LinkToFifo => mkfifo(&fifo).and_then(|()| symlink(&fifo, cred)),
        Entry::Dangling => symlink(dir.join("nothing"), cred),
        Entry::Loop => symlink(cred, cred),
    };
    result.expect("build the credentials directory");
}

/// A key file as an admin makes one: mode 0600.
fn write_key(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::write(path, bytes)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

/// A key file or credential follows links; an autokey never does.
fn expect(entry: Entry, bytes: &[u8], autokey: bool) -> Want {
    let len = bytes.len();
    match entry {
        Entry::LinkToFile
        | Entry::LinkToDir
        | Entry::LinkToFifo
        | Entry::Dangling
        | Entry::Loop
            if autokey =>
        {
            Want::NotFile(Kind::Symlink)
        }
        Entry::File | Entry::LinkToFile if len < MAIN_KEY_LEN => Want::Short(len),
        Entry::File | Entry::LinkToFile if bytes[..MAIN_KEY_LEN].iter().all(|&b| b == 0) => {
            Want::Zero
        }
        Entry::File | Entry::LinkToFile => Want::Key,
        Entry::Dir | Entry::LinkToDir => Want::NotFile(Kind::Directory),
        Entry::Fifo | Entry::LinkToFifo => Want::NotFile(Kind::Fifo),
        Entry::Absent | Entry::Dangling => Want::Read(Some(ErrorKind::NotFound)),
        Entry::Loop => Want::Read(None),
    }
}

fn mkfifo(path: &Path) -> std::io::Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    match unsafe { libc::mkfifo(c.as_ptr(), 0o600) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}
