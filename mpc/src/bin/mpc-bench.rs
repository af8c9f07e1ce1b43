//! Benchmark program (filled in below).

fn main() {}
