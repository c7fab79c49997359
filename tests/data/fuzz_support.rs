//! Shared by the fuzz tests (`fuzz_idx`, `fuzz_checkpoint`): a global allocator that notes the
//! largest single allocation of each thread (the allocator of this whole test binary), the
//! proptest configuration and a byte search.

use proptest::test_runner::Config;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

// ---- the largest allocation, per thread ----

/// The system allocator, noting the largest request of each thread.
struct Tracking;

thread_local! {
    // Const-initialised and without a destructor, so using it never allocates.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|c| {
        if size > c.get() {
            c.set(size);
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; only a thread-local is updated.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Runs `f` and returns its result with the largest single allocation it made.
pub fn largest_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|c| c.set(0));
    let r = f();
    (r, LARGEST.with(|c| c.get()))
}

/// Far above anything the small inputs here need, far below what a lying header claims.
pub const ALLOC_LIMIT: usize = 16 << 20;

// ---- helpers ----

pub fn config(cases: u32) -> Config {
    Config {
        cases,
        // No proptest-regressions/ files in the repository.
        failure_persistence: None,
        ..Config::default()
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
