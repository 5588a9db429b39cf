//! The binary's allocator: a bump arena in front of the system's.
//!
//! A run allocates a few kilobytes (paths, labels, its log line) and exits
//! within microseconds. glibc's malloc, starting from empty free lists,
//! spends about 130 instructions on each of those allocations and 85 on
//! each free: more than a sixth of a run (`make bench`). Here an
//! allocation is an aligned add to one offset and a free does nothing.
//! Nothing is handed out twice, so an arena's size bounds what it gives;
//! past that, and for every block that does not fit, the system allocator
//! serves as before, and its blocks go back to it.
//!
//! Secrets are unaffected: the buffers that hold keys wipe themselves
//! before they are freed (`Zeroizing`), whichever allocator holds them,
//! and a freed block is never given to another owner.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes in the arena: several times what the busiest run allocates (a
/// `--check` of three ticket outputs), while a run that needs more still
/// works, from the system allocator.
pub const ARENA_LEN: usize = 64 * 1024;
// Every offset the arena hands out fits an isize, as `ptr::add` requires.
const _: () = assert!(ARENA_LEN <= isize::MAX as usize);

/// A bump arena of [`ARENA_LEN`] bytes; the system allocator serves what
/// it cannot.
pub struct Arena {
    space: UnsafeCell<[u8; ARENA_LEN]>,
    /// Bytes handed out from the start of `space` (with alignment gaps).
    used: AtomicUsize,
}

// SAFETY: `space` is only reached through the blocks `alloc` hands out, and
// the atomic `used` gives each byte to one block at most, whatever threads
// allocate at once.
unsafe impl Sync for Arena {}

impl Arena {
    /// An empty arena (usable as a `static`).
    pub const fn new() -> Arena {
        Arena {
            space: UnsafeCell::new([0; ARENA_LEN]),
            used: AtomicUsize::new(0),
        }
    }

    /// Bytes handed out so far, for tests and the benchmark.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn base(&self) -> *mut u8 {
        self.space.get().cast::<u8>()
    }

    /// True if `ptr` is a block of this arena (not the system's).
    fn owns(&self, ptr: *mut u8) -> bool {
        let (base, at) = (self.base() as usize, ptr as usize);
        at >= base && at < base + ARENA_LEN
    }

    /// The offset of a free block of `layout` taken from the arena, or
    /// `None` when it does not fit in what is left.
    fn take(&self, layout: Layout) -> Option<usize> {
        let base = self.base() as usize;
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            // Aligned as an address, not as an offset: the arena's own
            // alignment is only that of a byte array.
            let start = (base + used).checked_next_multiple_of(layout.align())? - base;
            let end = start.checked_add(layout.size())?;
            if end > ARENA_LEN {
                return None;
            }
            match self
                .used
                .compare_exchange_weak(used, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(start),
                Err(now) => used = now,
            }
        }
    }
}

impl Default for Arena {
    fn default() -> Arena {
        Arena::new()
    }
}

// SAFETY: each block is `layout.size()` bytes at a multiple of
// `layout.align()`, inside `space` and given to no other block (see
// `take`), or the system allocator's; `dealloc` and `realloc` give system
// blocks back to it and leave arena blocks in place.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.take(layout) {
            // SAFETY: `start` is within `space` (see `take`).
            Some(start) => unsafe { self.base().add(start) },
            // SAFETY: the caller's layout, passed on.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.owns(ptr) {
            // SAFETY: a block the system allocator gave, with its layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.owns(ptr) {
            // SAFETY: a block the system allocator gave, with its layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the caller guarantees `new_size`, rounded up to the
        // alignment, does not overflow an isize.
        let new =
            unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !new.is_null() {
            // SAFETY: both blocks hold at least `layout.size()` bytes and
            // are distinct (the old one is never handed out again).
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size()) };
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn blocks_are_aligned_distinct_and_counted() {
        let arena = Box::new(Arena::new());
        // SAFETY: non-zero layouts; each block is written within its size.
        unsafe {
            let a = arena.alloc(layout(3, 1));
            let b = arena.alloc(layout(8, 8));
            let c = arena.alloc(layout(64, 64));
            assert!(arena.owns(a) && arena.owns(b) && arena.owns(c));
            assert_eq!((b as usize % 8, c as usize % 64), (0, 0));
            assert!(b as usize >= a as usize + 3 && c as usize >= b as usize + 8);
            a.write_bytes(1, 3);
            b.write_bytes(2, 8);
            assert_eq!(*a.add(2), 1);
            assert!(arena.used() >= 3 + 8 + 64 && arena.used() < 3 + 8 + 64 + 8 + 64);
        }
    }

    #[test]
    fn realloc_keeps_the_content() {
        let arena = Box::new(Arena::new());
        // SAFETY: as above; `p` is grown and shrunk with its own layout.
        unsafe {
            let p = arena.alloc(layout(4, 1));
            p.copy_from_nonoverlapping(b"abcd".as_ptr(), 4);
            let q = arena.realloc(p, layout(4, 1), 100);
            assert_eq!(std::slice::from_raw_parts(q, 4), b"abcd");
            assert_eq!(arena.realloc(q, layout(100, 1), 2), q);
            arena.dealloc(q, layout(100, 1));
        }
    }

    #[test]
    fn what_does_not_fit_goes_to_the_system() {
        let arena = Box::new(Arena::new());
        // SAFETY: as above; the system's blocks are given back to it.
        unsafe {
            let big = arena.alloc(layout(ARENA_LEN + 1, 8));
            assert!(!big.is_null() && !arena.owns(big));
            let most = arena.alloc(layout(ARENA_LEN - 16, 1));
            assert!(arena.owns(most));
            let over = arena.alloc(layout(32, 8));
            assert!(!over.is_null() && !arena.owns(over));
            // Grown out of the arena: to the system, content kept.
            let tail = arena.alloc(layout(8, 1));
            tail.write_bytes(7, 8);
            let grown = arena.realloc(tail, layout(8, 1), 1000);
            assert!(!arena.owns(grown) && *grown.add(7) == 7);
            let grown = arena.realloc(grown, layout(1000, 1), 5000);
            assert_eq!(*grown.add(7), 7);
            arena.dealloc(grown, layout(5000, 1));
            arena.dealloc(over, layout(32, 8));
            arena.dealloc(big, layout(ARENA_LEN + 1, 8));
            assert!(arena.used() <= ARENA_LEN);
        }
    }
}
