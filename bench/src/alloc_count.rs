//! A global allocator that counts live heap bytes, for scenario E.
//!
//! It wraps the system allocator. Counting is off until [`enable`] is called, so the
//! throughput scenarios pay one relaxed load per allocation and no shared-counter
//! traffic. The difference between two [`live_bytes`] readings taken while counting is
//! on is exactly the bytes allocated minus the bytes freed in between (requested sizes,
//! without the allocator's own headers and rounding, which the RSS figure includes).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

static ENABLED: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// The counting allocator; installed in `main.rs` with `#[global_allocator]`.
pub struct Counting;

/// Starts counting.
pub fn enable() {
    ENABLED.store(true, Relaxed);
}

/// Bytes allocated minus bytes freed since counting started.
pub fn live_bytes() -> isize {
    LIVE.load(Relaxed)
}

#[inline]
fn count(delta: isize) {
    if ENABLED.load(Relaxed) {
        LIVE.fetch_add(delta, Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged and
// only adds bookkeeping on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        new
    }
}
