//! Criterion micro-benchmarks of the impairment queue: the cost of one frame
//! through `push` and `pop_due` in steady state, with buffers recycled as the
//! event loop would (so the only allocations are the duplicates' clones).
//!
//!     cargo bench -p vde-switch --bench impair

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vdeswitch::impair::ImpairQueue;

/// A 60-byte frame (a 64-byte frame without FCS).
fn frame() -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

fn steady_state(c: &mut Criterion) {
    let mut g = c.benchmark_group("impair");
    g.throughput(Throughput::Elements(1));
    for settings in [
        "limit 1000",
        "delay 10ms",
        "delay 10ms 2ms",
        "loss 5%",
        "rate 1gbit",
        "delay 1ms 200us 25% loss 5% duplicate 1% corrupt 0.1% reorder 2%",
    ] {
        g.bench_with_input(BenchmarkId::from_parameter(settings), settings, |b, s| {
            let mut q: ImpairQueue<Vec<u8>> = ImpairQueue::new(s.parse().unwrap(), 1);
            let mut pool: Vec<Vec<u8>> = (0..2048).map(|_| frame()).collect();
            let mut out = Vec::with_capacity(64);
            let mut now = Instant::now();
            // A frame every 20 us (50 000 frames/s): a 10 ms delay holds
            // about 500, under the default limit, so nothing overflows.
            let step = Duration::from_micros(20);
            b.iter(|| {
                let f = pool.pop().unwrap_or_else(frame);
                black_box(q.push(f, now));
                now += step;
                q.pop_due(now, &mut out);
                pool.append(&mut out);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, steady_state);
criterion_main!(benches);
