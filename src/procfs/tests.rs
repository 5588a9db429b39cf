//! procfs.rs's tests.

use super::*;

#[test]
fn mismatches_name_the_form_not_the_bytes() {
    let says = |found| {
        TargetError::Mismatch {
            path: "/t".into(),
            found,
            kept: Kept::Restored,
        }
        .to_string()
    };
    assert_eq!(
        says(Form::Key),
        "/t reads back a single key after the write; the old keys were put back"
    );
    assert!(says(Form::Empty).contains("reads back nothing"));
    assert!(says(Form::Other { len: 5, fields: 3 }).contains("5 bytes in 3 fields"));
    assert!(says(Form::Other { len: 5, fields: 1 }).contains("5 bytes, not a key pair"));
}

#[test]
fn fixes_follow_the_step_and_the_system_error() {
    let io = |step, errno| {
        TargetError::Io {
            path: "/t".into(),
            step,
            why: io::Error::from_raw_os_error(errno),
            kept: Kept::NotWritten,
        }
        .fix()
    };
    // Missing when opened: no TCP Fast Open here; later, just -P.
    assert!(
        io(Step::Open, libc::ENOENT)
            .unwrap()
            .ends_with("has TCP Fast Open")
    );
    assert_eq!(io(Step::Read, libc::ENOENT), Some("check -P"));
    assert_eq!(
        io(Step::Write, libc::ENOSPC),
        Some("make room (or raise the file size limit), or check -P")
    );
}

#[test]
fn text_ends_at_newline_or_nul() {
    assert_eq!(text(b"ab\ncd"), b"ab");
    assert_eq!(text(b"ab\0cd"), b"ab");
    assert_eq!(text(b"abcd"), b"abcd");
}
