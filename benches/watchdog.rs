//! Watchdog benchmarks (being written).
fn main() {}
