//! `dirpath::open_dir` over a scratch tree and a path built from the input.
//!
//! The tree is the chain `a/b/c` under the scratch directory, each level
//! one of: a directory (0700, 0777 or sticky 1777), a link to a directory,
//! a dangling link, a regular file, or nothing; the path is up to 8
//! components from `a`, `b`, `c`, `x`, `.`, `..` and the empty one (`//`).
//! The expected answer comes from how the input built the tree, walked by
//! the rules (no link followed, no `..`, every directory left behind
//! trusted or sticky for [`Ancestors::Trusted`]), not from asking the file
//! system again.
#![no_main]

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use tofurkey::dirpath::{Ancestors, Problem, open_dir};

/// The chain's names, one per level.
const NAMES: [&str; 3] = ["a", "b", "c"];

/// What a level of the chain is, as the input chose it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Entry {
    Dir(u32),
    LinkToDir,
    DanglingLink,
    File,
    Absent,
}

fn entry(byte: u8) -> Entry {
    match byte % 7 {
        0 => Entry::Dir(0o700),
        1 => Entry::Dir(0o777),
        2 => Entry::Dir(0o1777),
        3 => Entry::LinkToDir,
        4 => Entry::DanglingLink,
        5 => Entry::File,
        _ => Entry::Absent,
    }
}

/// What the walk should say: the directory reached, or where and why not.
#[derive(Debug, PartialEq)]
enum Want {
    Opened,
    Refused(PathBuf, &'static str),
}

fuzz_target!(|data: &[u8]| {
    let scratch = tofurkey_fuzz::scratch("dir_path");
    // Whatever the umask: the model below takes it to be 0755.
    fs::set_permissions(&scratch, fs::Permissions::from_mode(0o755)).unwrap();
    let (levels, rest) = data.split_at(data.len().min(4));
    let chain: Vec<Entry> = (0..NAMES.len())
        .map(|i| levels.get(i).map_or(Entry::Absent, |&b| entry(b)))
        .collect();
    let ancestors = match levels.get(3).map_or(0, |b| b % 2) {
        0 => Ancestors::Trusted,
        _ => Ancestors::AnyOwner,
    };
    // Build: each level exists only below a real directory.
    let elsewhere = scratch.join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let mut dir = scratch.clone();
    for (name, entry) in NAMES.iter().zip(&chain) {
        let path = dir.join(name);
        match *entry {
            Entry::Dir(mode) => {
                fs::create_dir(&path).unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            }
            Entry::LinkToDir => symlink(&elsewhere, &path).unwrap(),
            Entry::DanglingLink => symlink(scratch.join("nowhere"), &path).unwrap(),
            Entry::File => fs::write(&path, b"").unwrap(),
            Entry::Absent => {}
        }
        if !matches!(entry, Entry::Dir(_)) {
            break;
        }
        dir = path;
    }
    let parts: Vec<&str> = rest
        .iter()
        .take(8)
        .map(|b| ["a", "b", "c", "x", ".", "..", ""][usize::from(b % 7)])
        .collect();
    let mut path = scratch.clone().into_os_string();
    for part in &parts {
        path.push("/");
        path.push(part);
    }
    let path = PathBuf::from(path);

    let want = expected(&scratch, &chain, &parts, &path, ancestors);
    let got = match open_dir(&path, ancestors) {
        Ok(fd) => {
            assert!(fd.metadata().unwrap().is_dir());
            Want::Opened
        }
        Err(e) => Want::Refused(
            e.at,
            match e.problem {
                Problem::Open(_) => "open",
                Problem::Link(_) => "link",
                Problem::NotDirectory => "not a directory",
                Problem::DotDot => "..",
                Problem::Untrusted { .. } => "untrusted",
            },
        ),
    };
    assert_eq!(got, want, "{path:?} over {chain:?}, {ancestors:?}");
});

/// The walk by the rules, over the model of the tree.
fn expected(
    scratch: &Path,
    chain: &[Entry],
    parts: &[&str],
    path: &Path,
    ancestors: Ancestors,
) -> Want {
    if parts.contains(&"..") {
        return Want::Refused(path.to_path_buf(), "..");
    }
    let (mut at, mut depth, mut mode) = (scratch.to_path_buf(), 0, 0o755);
    for part in parts.iter().filter(|p| !p.is_empty() && **p != ".") {
        // Leaving a directory for one below it: it must be trusted (the
        // scratch directory is the running user's, 0755).
        if ancestors == Ancestors::Trusted && mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Want::Refused(at, "untrusted");
        }
        at.push(part);
        let here = match NAMES.get(depth) {
            Some(name) if name == part => chain[depth],
            _ => Entry::Absent,
        };
        match here {
            Entry::Dir(m) => (depth, mode) = (depth + 1, m),
            Entry::LinkToDir | Entry::DanglingLink => return Want::Refused(at, "link"),
            Entry::File => return Want::Refused(at, "not a directory"),
            Entry::Absent => return Want::Refused(at, "open"),
        }
    }
    Want::Opened
}
