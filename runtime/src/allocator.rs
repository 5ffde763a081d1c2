//! The process's global allocator (feature `mimalloc`, on by default):
//! mimalloc, asked for memory the way its fast paths expect.
//!
//! Rust hands every allocation its alignment, and the `mimalloc` crate passes
//! each one to `mi_malloc_aligned`. mimalloc 3 serves an aligned request from
//! its size class only while that class's free list has a block ready; when
//! the list is empty (as it is every time a page has been used up), a request
//! whose size is not a power of two is over-allocated from a larger class,
//! and the next one finds the same empty list. About half of a `tools/call`'s
//! allocator time went to that path, for allocations (strings, JSON values,
//! futures) that need no more than the word alignment every mimalloc block
//! has. Those go to `mi_malloc` and friends here, which refill the free list;
//! only stricter alignments (a tokio channel's cache-line padding) take the
//! aligned calls. `bench/analysis.md` has the counts.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// Every mimalloc block is aligned to at least a machine word.
const WORD: usize = std::mem::size_of::<usize>();

pub struct Mimalloc;

// SAFETY: each method forwards to the mimalloc function of the same job;
// requests that need more than word alignment get the aligned variant, and
// every pointer mimalloc returns is freed by `mi_free`, whichever call made it.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if layout.align() <= WORD {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if layout.align() <= WORD {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            if layout.align() <= WORD {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size and alignment a program asks for comes back aligned, holds
    /// what was written, and survives growing and shrinking.
    #[test]
    fn allocations_are_aligned_and_keep_their_contents() {
        let a = Mimalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for size in [0, 1, 7, 8, 9, 24, 100, 1000, 1025, 5000, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    for i in 0..size {
                        *p.add(i) = i as u8;
                    }
                    let grown = a.realloc(p, layout, size * 2 + 3);
                    assert_eq!(grown as usize % align, 0, "grown {size} align {align}");
                    for i in 0..size {
                        assert_eq!(*grown.add(i), i as u8);
                    }
                    let grown_layout = Layout::from_size_align(size * 2 + 3, align).unwrap();
                    let shrunk = a.realloc(grown, grown_layout, size / 2);
                    assert_eq!(shrunk as usize % align, 0, "shrunk {size} align {align}");
                    for i in 0..size / 2 {
                        assert_eq!(*shrunk.add(i), i as u8);
                    }
                    a.dealloc(shrunk, Layout::from_size_align(size / 2, align).unwrap());
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
