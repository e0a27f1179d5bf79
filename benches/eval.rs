//! Criterion benchmarks (filled in by the throughput work).

fn main() {}
