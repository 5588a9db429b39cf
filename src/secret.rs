//! Fixed-size buffers of key material that wipe themselves on drop.
//!
//! Every key buffer of a run has a size known at compile time, so each is
//! kept in a [`Secret`]: one type that wipes itself on drop (with zeroize,
//! whose barrier keeps the wipe from being optimized away) and that has no
//! `Debug` or `Display`, so no key byte can be formatted by mistake.

use std::ops::{Deref, DerefMut};

use zeroize::{Zeroize, ZeroizeOnDrop};

/// `N` bytes of key material, wiped on drop. Never printed: it has no
/// `Debug` or `Display`, so nothing can format it by mistake.
pub struct Secret<const N: usize>([u8; N]);

impl<const N: usize> Secret<N> {
    /// `N` zero bytes, to be filled in place.
    pub fn zeroed() -> Secret<N> {
        Secret([0; N])
    }

    /// `N` bytes of `byte` (e.g. a file's newlines before its lines).
    pub fn filled(byte: u8) -> Secret<N> {
        Secret([byte; N])
    }
}

impl<const N: usize> Deref for Secret<N> {
    type Target = [u8; N];
    fn deref(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> DerefMut for Secret<N> {
    fn deref_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> AsRef<[u8]> for Secret<N> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl<const N: usize> Zeroize for Secret<N> {
    fn zeroize(&mut self) {
        // As a slice: zeroize's bulk wipe (see the module doc).
        self.0.as_mut_slice().zeroize();
    }
}

impl<const N: usize> Drop for Secret<N> {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl<const N: usize> ZeroizeOnDrop for Secret<N> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipes_in_place_and_derefs_to_its_bytes() {
        let mut s = Secret::<40>::filled(0xa5);
        assert_eq!(s.len(), 40);
        s[3] = 7;
        assert_eq!((s[2], s[3]), (0xa5, 7));
        assert_eq!(s.as_ref(), &s[..]);
        s.zeroize();
        assert!(s.iter().all(|&b| b == 0), "not wiped");
        assert!(Secret::<3>::zeroed().iter().all(|&b| b == 0));
    }

    #[test]
    fn drop_wipes_the_bytes_where_they_were() {
        // Dropped in place (never moved): its own memory must be zero after.
        let mut slot = std::mem::MaybeUninit::new(Secret::<64>::filled(0x5a));
        let at = slot.as_ptr().cast::<u8>();
        // SAFETY: `slot` holds an initialized Secret, dropped exactly once
        // here; its 64 bytes stay in `slot` (a MaybeUninit is never
        // dropped), so reading them back after the drop is reading our own
        // stack memory, which is initialized bytes (the wipe wrote them).
        let after = unsafe {
            slot.assume_init_drop();
            std::slice::from_raw_parts(at, 64).to_vec()
        };
        assert_eq!(after, vec![0; 64], "drop left key bytes behind");
    }
}
