//! The key source's tests: the link walk against the kernel's, the
//! trust rules, and the errors' words and fixes.

use super::error::{COPY_CLUSTER_KEY, MAKE_KEY};
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

#[test]
fn choose_next_order() {
    let dir = std::env::temp_dir().join(format!("tofurkey-next-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let with = Some(dir.clone().into_os_string());
    let file = NextKeySpec::File("/n".into());
    assert_eq!(
        Source::choose_next(&file, with.clone()).unwrap(),
        Source::File("/n".into())
    );
    // The service without the credential: no autokey to fall back to.
    assert!(matches!(
        Source::choose_next(&NextKeySpec::Credential, with.clone()),
        Err(KeyError::NoNextKey)
    ));
    fs::write(dir.join(NEXT_CREDENTIAL), [1u8; 32]).unwrap();
    let cred = Source::choose_next(&NextKeySpec::Credential, with).unwrap();
    assert_eq!(cred, Source::Credential(dir.join(NEXT_CREDENTIAL)));
    assert_eq!(cred.label(), "credential tofurkey.key.next");
    // Its bytes' messages name the admin's files for it, not the main key's.
    let short = KeyError::Short {
        source: cred,
        len: 3,
    }
    .to_string();
    assert!(
        short.contains(
            "credential tofurkey.key.next (from /etc/credstore/tofurkey.key.next or \
             /etc/credstore.encrypted/tofurkey.key.next)"
        ),
        "{short}"
    );
    // An encrypted one outside the service: how to run as the service.
    let encrypted = KeyError::ServiceKey {
        path: Path::new(ENCRYPTED_STORE).join(NEXT_CREDENTIAL),
        why: None,
    };
    let fix = encrypted.fix().unwrap();
    assert!(fix.contains("LoadCredentialEncrypted=tofurkey.key.next tofurkey --check"));
    assert!(fix.contains("(or give --next-key PATH)"), "{fix}");
    assert!(
        KeyError::NoNextKey
            .fix()
            .unwrap()
            .contains("/etc/credstore/tofurkey.key.next")
    );
    fs::remove_dir_all(dir).unwrap();
}

/// A credential as systemd would load it: the encrypted store first (which
/// only systemd reads: an error), then the first plain store that has it;
/// a store that cannot be searched is an error, not "none there".
#[test]
fn stored_credentials_in_systemds_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = |p: &str| dir.path().join(p);
    for d in ["enc", "a", "b"] {
        fs::create_dir(path(d)).unwrap();
    }
    fs::write(path("not-a-dir"), b"").unwrap();
    let (enc, a, b, bad) = (path("enc"), path("a"), path("b"), path("not-a-dir"));
    let stored = |plain: &[&Path]| credstore::stored_in(&enc, plain, "k");
    let file = |p: PathBuf| Some(Source::File(p));
    assert_eq!(stored(&[&a, &b]).unwrap(), None);
    fs::write(b.join("k"), [1u8; 32]).unwrap();
    assert_eq!(stored(&[&a, &b]).unwrap(), file(b.join("k")));
    fs::write(a.join("k"), [1u8; 32]).unwrap();
    assert_eq!(stored(&[&a, &b]).unwrap(), file(a.join("k")));
    let unsearchable = stored(&[&bad, &a]);
    assert!(
        matches!(&unsearchable, Err(KeyError::ServiceKey { path, why: Some(_) }) if *path == bad.join("k")),
        "{unsearchable:?}"
    );
    fs::write(enc.join("k"), b"encrypted").unwrap();
    let encrypted = stored(&[&a, &b]);
    assert!(
        matches!(&encrypted, Err(KeyError::ServiceKey { path, why: None }) if *path == enc.join("k")),
        "{encrypted:?}"
    );
}

/// Links followed as the kernel follows them: relative targets from
/// the link's directory, `..` after a link from where it led, a loop
/// ending in ELOOP; the file found is the one the kernel opens.
#[test]
fn resolve_follows_links_as_the_kernel_does() {
    use std::os::unix::fs::symlink;
    let dir = std::env::temp_dir().join(format!("tofurkey-resolve-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("a/b")).unwrap();
    fs::write(dir.join("a/key"), [1u8; 32]).unwrap();
    symlink("b", dir.join("a/to-b")).unwrap();
    symlink("../key", dir.join("a/b/up")).unwrap();
    symlink(dir.join("a/to-b"), dir.join("abs")).unwrap();
    symlink("loop", dir.join("loop")).unwrap();
    let file = |p: &str| Source::File(dir.join(p));
    let real = dir.join("a/key");
    for p in [
        "a/key",
        "a/to-b/up",
        "abs/up",
        "abs/../key",
        "a/b/../to-b/./up",
    ] {
        let r = resolve::resolve(&file(p), &dir.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(r.real, real, "{p}");
        let meta = fs::metadata(dir.join(p)).unwrap();
        assert_eq!(r.id, (meta.dev(), meta.ino()), "{p}");
    }
    let looped = resolve::resolve(&file("loop"), &dir.join("loop"));
    assert!(
        matches!(&looped, Err(KeyError::Read { why, .. }) if why.raw_os_error() == Some(libc::ELOOP)),
        "{looped:?}"
    );
    // As many links as the kernel follows (40), and one more: the kernel's
    // verdict on each chain is the one to give.
    fs::create_dir(dir.join("chain")).unwrap();
    fs::write(dir.join("chain/0"), [1u8; 32]).unwrap();
    for n in 1..=41 {
        symlink((n - 1).to_string(), dir.join(format!("chain/{n}"))).unwrap();
    }
    let forty = dir.join("chain/40");
    assert!(fs::metadata(&forty).is_ok(), "the kernel follows 40 links");
    let r = resolve::resolve(&file("chain/40"), &forty).unwrap();
    assert_eq!(r.real, dir.join("chain/0"));
    let forty_one = dir.join("chain/41");
    let kernel = fs::metadata(&forty_one).unwrap_err();
    assert_eq!(kernel.raw_os_error(), Some(libc::ELOOP));
    let ours = resolve::resolve(&file("chain/41"), &forty_one);
    assert!(
        matches!(&ours, Err(KeyError::Read { why, .. }) if why.raw_os_error() == Some(libc::ELOOP)),
        "{ours:?}"
    );
    let missing = resolve::resolve(&file("a/none"), &dir.join("a/none"));
    assert!(
        matches!(&missing, Err(KeyError::Read { why, .. }) if why.kind() == io::ErrorKind::NotFound),
        "{missing:?}"
    );
    fs::remove_dir_all(dir).unwrap();
}

// The errors' words and fixes (error.rs).
#[test]
fn fixes_follow_the_source() {
    let file = Source::File("/k".into());
    let autokey = Source::Autokey("/a".into());
    let not_file = |source| KeyError::NotFile {
        source,
        kind: Kind::Fifo,
    };
    assert_eq!(
        not_file(Source::Stdin).fix().as_deref(),
        Some("pipe the key in ('tofurkey -k - < FILE')")
    );
    assert_eq!(
        not_file(autokey.clone()).fix().as_deref(),
        Some("remove it, and the next run makes a new one")
    );
    assert_eq!(
        not_file(file.clone()).fix().as_deref(),
        Some("point it at a file of 32 bytes")
    );
    assert_eq!(
        KeyError::Zero { source: autokey }.fix().as_deref(),
        Some("remove it, and the next run makes a new one")
    );
    assert_eq!(
        KeyError::Zero {
            source: file.clone()
        }
        .fix()
        .as_deref(),
        Some(MAKE_KEY)
    );
    // A readable key's advice names the file itself, when it is known.
    let readable = |real: Option<&str>| KeyError::Readable {
        source: file.clone(),
        mode: 0o640,
        real: real.map(PathBuf::from),
    };
    assert_eq!(
        readable(Some("/etc/tofurkey/main.key")).fix().as_deref(),
        Some("'chmod go= /etc/tofurkey/main.key'")
    );
    assert_eq!(readable(None).fix().as_deref(), Some("'chmod go= FILE'"));
}

/// A credential whose bytes are wrong is named by the admin's file,
/// not systemd's copy, and the fix is the cluster's key, not a new one.
#[test]
fn a_credential_is_named_by_the_admins_file() {
    let copy = Source::Credential("/run/credentials/tofurkey.service/tofurkey.key".into());
    let short = KeyError::Short {
        source: copy.clone(),
        len: 31,
    };
    assert_eq!(
        short.to_string(),
        "credential tofurkey.key (from /etc/credstore/tofurkey.key or \
         /etc/credstore.encrypted/tofurkey.key) holds 31 bytes, needs at least 32"
    );
    assert_eq!(short.fix().as_deref(), Some(COPY_CLUSTER_KEY));
    let zero = KeyError::Zero {
        source: copy.clone(),
    };
    assert!(
        zero.to_string()
            .starts_with("credential tofurkey.key (from /etc/credstore/")
    );
    assert_eq!(zero.fix().as_deref(), Some(COPY_CLUSTER_KEY));
    // What is not about its bytes names the file the run read.
    let unreadable = KeyError::Read {
        source: copy,
        why: io::Error::from_raw_os_error(libc::EACCES),
    };
    assert!(
        unreadable
            .to_string()
            .starts_with("cannot read credential /run/credentials/tofurkey.service/")
    );
    // A store's own file (read where it lies) names itself.
    let stored = Source::Credential("/etc/credstore/tofurkey.key".into());
    assert_eq!(
        KeyError::Short {
            source: stored,
            len: 3
        }
        .to_string(),
        "credential /etc/credstore/tofurkey.key holds 3 bytes, needs at least 32"
    );
    // A key file's fix is still to make one.
    let file = KeyError::Short {
        source: Source::File("/k".into()),
        len: 3,
    };
    assert_eq!(file.fix().as_deref(), Some(MAKE_KEY));
}
