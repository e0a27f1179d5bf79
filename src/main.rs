//! The `iamsim` binary: the command line ([`cli`]) over the library. Installs a counting allocator so
//! `iamsim bench` can report the compiled set's size in bytes; the library
//! itself forbids unsafe code. Counting starts at the first probe: a shared
//! counter updated by every allocation of every thread would make
//! allocation-heavy parallel work (replay) contend on one cache line.
//!
//! Underneath is mimalloc (feature `mimalloc`, on by default) rather than the
//! system allocator, measured: `bench` decides its 100,000 held requests
//! 1.2-1.5x faster (they are many small strings; with glibc the misses on
//! them, caches and TLB, cost more, and glibc with huge pages recovers part
//! of the gap), `eval` runs 1.3-1.6x faster, replay is unchanged
//! (benches/README.md, session 6).
#![allow(unsafe_code)]

mod cli;

#[cfg(feature = "mimalloc")]
use mimalloc::MiMalloc as Inner;
#[cfg(not(feature = "mimalloc"))]
use std::alloc::System as Inner;
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The underlying allocator, counting live bytes.
struct Counting;

/// Bytes allocated minus bytes freed since counting started (wrapping).
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
/// Set by the first probe; read-only (so never contended) until then.
static COUNTING: AtomicBool = AtomicBool::new(false);

// SAFETY: delegates every call to `Inner` unchanged; only adds counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { Inner.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { Inner.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { Inner.realloc(ptr, layout, new_size) }
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
    cli::run(Some(live_bytes))
}
