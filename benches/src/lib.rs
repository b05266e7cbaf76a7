//! Benchmark harness; filled by the performance issue.
