//! A global allocator that counts, per thread, the allocations made and the bytes held:
//! the proof of the allocation and leak tests. Included by path (`#[path]`) by the test
//! binaries that install it, so that the others keep the system allocator as it is.
//!
//! Per thread, so that tests running beside each other do not count each other: a test
//! that reads it runs its servers on a current_thread runtime on its own thread.

// Each binary that includes this uses a part of it.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the allocations made by the current thread, and the bytes it holds.
pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<i64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        BYTES.with(|bytes| bytes.set(bytes.get() + layout.size() as i64));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        BYTES.with(|bytes| bytes.set(bytes.get() - layout.size() as i64));
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// How many allocations this thread has made.
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// How many bytes this thread has allocated and not freed (negative if it freed what
/// another thread allocated).
pub fn bytes_held() -> i64 {
    BYTES.with(Cell::get)
}
