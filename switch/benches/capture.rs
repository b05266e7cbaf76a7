//! Criterion micro-benchmark of a capture: the cost of one captured frame (record header with
//! the batch's timestamp, copy into the buffer, and its share of the 64 KiB writes) into `/dev/null`, pcap
//! for one port and pcapng for all. The data path's own cost per frame is what vdeperf
//! measures; this is what a capture adds per frame it records (twice per forwarded frame when
//! both ports are captured).
//!
//!     cargo bench -p vde-switch --bench capture

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vdeswitch::fabric::PortId;
use vdeswitch::server::edges::Sink;

fn record(c: &mut Criterion) {
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Elements(1));
    for (name, pcapng, len) in [
        ("pcap_60B", false, 60),
        ("pcapng_60B", true, 60),
        ("pcap_1514B", false, 1514),
    ] {
        g.bench_with_input(BenchmarkId::from_parameter(name), &len, |b, &len| {
            let mut sink = Sink::open(Path::new("/dev/null"), pcapng).expect("open /dev/null");
            let frame = vec![0x42u8; len];
            let now = std::time::Instant::now();
            b.iter(|| black_box(sink.record(PortId(3), black_box(&frame), now)));
            assert_eq!(sink.dropped, 0);
        });
    }
    g.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
