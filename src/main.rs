//! The `iamsim` binary: see [`iamsim::cli`]. Installs a counting allocator so
//! `iamsim bench` can report the compiled set's size in bytes; the library
//! itself forbids unsafe code. Counting starts at the first probe: a shared
//! counter updated by every allocation of every thread would make
//! allocation-heavy parallel work (replay) contend on one cache line.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The system allocator, counting live bytes.
struct Counting;

/// Bytes allocated minus bytes freed since counting started (wrapping).
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
/// Set by the first probe; read-only (so never contended) until then.
static COUNTING: AtomicBool = AtomicBool::new(false);

// SAFETY: delegates every call to `System` unchanged; only adds counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Live bytes since the first call (which starts counting); differences
/// between two calls are what `bench` reports.
fn live_bytes() -> usize {
    COUNTING.store(true, Ordering::Relaxed);
    LIVE_BYTES.load(Ordering::Relaxed)
}

fn main() -> std::process::ExitCode {
    iamsim::cli::run(Some(live_bytes))
}
