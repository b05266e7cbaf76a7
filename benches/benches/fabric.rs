//! Criterion micro-benchmarks of the forwarding fabric (`vdeswitch::fabric::Fabric`): the
//! per-frame decisions alone, without sockets.
//!
//!     cargo bench -p vde-benches --bench fabric
//!     cargo bench -p vde-benches --bench fabric -- flood     # a subset
//!
//! Every `forward` call here also drains the fabric's events, as the event loop does.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vde_protocol::MacAddr;
use vdeswitch::fabric::{
    Credentials, Delivery, Endpoint, Fabric, Learn, MacTable, PortChoice, PortId, Tagging, VlanId,
};

const V0: VlanId = VlanId::DEFAULT;

fn vid(id: u16) -> VlanId {
    VlanId::new(id).unwrap()
}

const BCAST: [u8; 6] = [0xff; 6];

fn mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [0x02, 0x42, b[0], b[1], b[2], b[3]]
}

/// A 60-byte frame (a 64-byte frame without FCS).
fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.resize(60, 0);
    f
}

/// An 802.1Q-tagged 64-byte frame.
fn tagged(dst: [u8; 6], src: [u8; 6], vid: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x81, 0x00, (vid >> 8) as u8, vid as u8, 0x88, 0xb5]);
    f.resize(64, 0);
    f
}

fn root() -> Credentials {
    Credentials {
        uid: Some(0),
        gids: vec![0],
    }
}

/// A switch with ports 1..=n attached (one endpoint each), as `vde_switch -n 260` would
/// have them, and each port's MAC (`mac(port)`) learned.
fn switch(n: usize) -> Fabric {
    let mut f = Fabric::new(260, false, 128, 65536);
    for i in 0..n {
        let ep = Endpoint {
            id: i as u32,
            module: "unix prog",
            description: String::new(),
        };
        f.attach(PortChoice::Any, &root(), ep).expect("free port");
    }
    let mut out = Vec::new();
    for p in 1..=n {
        f.forward(PortId(p as u16), &frame(BCAST, mac(p as u32)), 0, &mut out);
    }
    f.drain_events();
    f
}

fn forward(f: &mut Fabric, port: u16, data: &[u8], out: &mut Vec<Delivery>) {
    f.forward(PortId(port), black_box(data), 1, out);
    f.drain_events();
    black_box(&out);
}

/// Unicast between two learned ports: source refreshed, destination looked up.
fn unicast(c: &mut Criterion) {
    let mut g = c.benchmark_group("forward");
    g.throughput(Throughput::Elements(1));
    for n in [2, 32, 256] {
        let mut f = switch(n);
        let data = frame(mac(2), mac(1));
        let mut out = Vec::new();
        g.bench_with_input(BenchmarkId::new("unicast_known", n), &n, |b, _| {
            b.iter(|| forward(&mut f, 1, &data, &mut out))
        });
    }
    // Unknown destination: flooded like a broadcast.
    let mut f = switch(8);
    let data = frame(mac(9999), mac(1));
    let mut out = Vec::new();
    g.bench_function("unicast_unknown_dst/8", |b| {
        b.iter(|| forward(&mut f, 1, &data, &mut out))
    });
    g.finish();
}

/// Learning a new source on every frame (the table is flushed, untimed, every 16k frames).
fn learn(c: &mut Criterion) {
    let mut g = c.benchmark_group("learn");
    g.throughput(Throughput::Elements(1));
    g.bench_function("new_source/forward", |b| {
        b.iter_custom(|iters| {
            let mut f = switch(2);
            let mut data = frame(mac(2), mac(1));
            let mut out = Vec::new();
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            let mut next = 1_000_000u32;
            while done < iters {
                let n = (iters - done).min(16384);
                let t = Instant::now();
                for _ in 0..n {
                    next = next.wrapping_add(1);
                    data[6..12].copy_from_slice(&mac(next));
                    forward(&mut f, 1, &data, &mut out);
                }
                total += t.elapsed();
                f.flush_all();
                f.drain_events();
                done += n;
            }
            total
        })
    });
    g.bench_function("refresh/mac_table", |b| {
        let mut t = MacTable::new(128, 65536);
        for i in 0..1000 {
            t.learn(MacAddr(mac(i)), V0, PortId(1), 0);
        }
        let m = MacAddr(mac(500));
        b.iter(|| {
            let r = t.learn(black_box(m), V0, PortId(1), 1);
            debug_assert_eq!(r, Learn::Refreshed);
            black_box(r)
        })
    });
    g.bench_function("new/mac_table", |b| {
        b.iter_custom(|iters| {
            let mut t = MacTable::new(128, 65536);
            let mut gone = Vec::new();
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                let n = (iters - done).min(16384);
                let start = Instant::now();
                for i in 0..n {
                    black_box(t.learn(MacAddr(mac(i as u32)), V0, PortId(1), 0));
                }
                total += start.elapsed();
                t.remove_where(|_, _| true, &mut gone);
                gone.clear();
                done += n;
            }
            total
        })
    });
    g.bench_function("lookup_hit/mac_table_1000", |b| {
        let mut t = MacTable::new(128, 65536);
        for i in 0..1000 {
            t.learn(MacAddr(mac(i)), V0, PortId(1), 0);
        }
        let mut i = 0u32;
        b.iter(|| {
            i = (i + 1) % 1000;
            black_box(t.lookup(MacAddr(mac(i)), V0))
        })
    });
    g.bench_function("lookup_miss/mac_table_1000", |b| {
        let mut t = MacTable::new(128, 65536);
        for i in 0..1000 {
            t.learn(MacAddr(mac(i)), V0, PortId(1), 0);
        }
        let mut i = 5000u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(t.lookup(MacAddr(mac(i)), V0))
        })
    });
    g.finish();
}

/// Broadcast: the flood decision with n ports attached.
fn flood(c: &mut Criterion) {
    let mut g = c.benchmark_group("flood");
    for n in [8, 256] {
        let mut f = switch(n);
        let data = frame(BCAST, mac(1));
        let mut out = Vec::new();
        f.forward(PortId(1), &data, 1, &mut out);
        assert_eq!(out.len(), n - 1);
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("broadcast", n), &n, |b, _| {
            b.iter(|| forward(&mut f, 1, &data, &mut out))
        });
    }
    let mut f = switch(8);
    f.set_hub(true);
    let data = frame(mac(2), mac(1));
    let mut out = Vec::new();
    g.bench_function("hub/8", |b| b.iter(|| forward(&mut f, 1, &data, &mut out)));
    g.finish();
}

/// VLAN decisions: port 1 untagged on VLAN 10, port 2 a tagged member of VLAN 10.
fn vlan(c: &mut Criterion) {
    let mut g = c.benchmark_group("vlan");
    g.throughput(Throughput::Elements(1));
    let mut f = switch(8);
    f.vlan_create(vid(10)).unwrap();
    f.set_port_vlan(PortId(1), vid(10)).unwrap();
    f.vlan_addport(vid(10), PortId(2)).unwrap();
    for p in 3..=5 {
        f.set_port_vlan(PortId(p), vid(10)).unwrap();
    }
    for p in 6..=8 {
        f.vlan_addport(vid(10), PortId(p)).unwrap();
    }
    let mut out = Vec::new();
    // Learn port 1 (untagged) and port 2 (tagged) on VLAN 10.
    f.forward(PortId(1), &frame(BCAST, mac(1)), 0, &mut out);
    f.forward(PortId(2), &tagged(BCAST, mac(2), 10), 0, &mut out);
    f.drain_events();

    let to_tagged = frame(mac(2), mac(1));
    f.forward(PortId(1), &to_tagged, 1, &mut out);
    assert_eq!(out[0].tagging, Tagging::Tag(vid(10)));
    g.bench_function("untagged_in_tag_out", |b| {
        b.iter(|| forward(&mut f, 1, &to_tagged, &mut out))
    });

    let to_untagged = tagged(mac(1), mac(2), 10);
    f.forward(PortId(2), &to_untagged, 1, &mut out);
    assert_eq!(out[0].tagging, Tagging::Untag);
    g.bench_function("tagged_in_untag_out", |b| {
        b.iter(|| forward(&mut f, 2, &to_untagged, &mut out))
    });

    let bcast = tagged(BCAST, mac(2), 10);
    f.forward(PortId(2), &bcast, 1, &mut out);
    assert_eq!(out.len(), 7);
    g.bench_function("tagged_broadcast_mixed_8", |b| {
        b.iter(|| forward(&mut f, 2, &bcast, &mut out))
    });

    // Tagged frame on a VLAN the port is not a member of: dropped at ingress.
    f.vlan_create(vid(20)).unwrap();
    let foreign = tagged(mac(1), mac(3), 20);
    f.forward(PortId(3), &foreign, 1, &mut out);
    assert!(out.is_empty());
    g.bench_function("ingress_drop_non_member", |b| {
        b.iter(|| forward(&mut f, 3, &foreign, &mut out))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = unicast, learn, flood, vlan
}
criterion_main!(benches);
