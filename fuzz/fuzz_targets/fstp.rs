//! The FSTP state machine under any sequence of events: membership changes, frames of any
//! shape (and well-formed BPDUs with fuzzed fields) on any port and VLAN, time jumps, edge,
//! bonus, FSTP on and off, VLANs created and removed. It must not panic, every BPDU it sends
//! must be a valid one from this switch, and the states it announces must be the ones it
//! reports afterwards.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use vde_protocol::bpdu::{BpduRepr, Flags};
use vde_protocol::{BridgeId, MacAddr};
use vdeswitch::fabric::PortId;
use vdeswitch::fstp::{Effect, Fstp};

const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x42]);

fuzz_target!(|data: &[u8]| {
    let mut f = Fstp::new(MAC, 0x8000, data.first().is_some_and(|b| b & 1 == 1), 0);
    let mut now = 0u64;
    let mut out = Vec::new();
    let mut bytes = data.iter().copied().skip(1);
    let mut next = move || bytes.next();
    while let Some(op) = next() {
        let arg = next().unwrap_or(0);
        let port = PortId(u16::from(arg & 7));
        let vlan = u16::from((arg >> 3) & 3);
        out.clear();
        match op % 9 {
            0 => f.port_added(vlan, port, arg & 0x20 != 0, now, &mut out),
            1 => f.port_removed(vlan, port, now, &mut out),
            2 => {
                let len = usize::from(next().unwrap_or(0) % 80);
                let frame: Vec<u8> = (0..len).map(|_| next().unwrap_or(0)).collect();
                f.receive(port, vlan, &frame, now, &mut out);
            }
            3 => {
                let b = [(); 8].map(|_| next().unwrap_or(0));
                let bpdu = BpduRepr {
                    src: MacAddr([2, 0, 0, 0, 0, b[0]]),
                    vlan: (arg & 0x20 != 0).then_some(vlan),
                    flags: Flags(b[1]),
                    root: BridgeId::new(u16::from(b[2]) << 8, MacAddr([2, 0, 0, 0, 0, b[3]])),
                    root_cost: u32::from(b[4]) * 1_000_000,
                    bridge: BridgeId::new(0x8000, MacAddr([2, 0, 0, 0, 0, b[5]])),
                    port_id: 0x8000 | u16::from(b[6] & 7),
                    message_age: u16::from(b[7] % 50),
                    max_age: 40,
                    hello_time: 4,
                    forward_delay: 0,
                };
                f.receive(port, vlan, &bpdu.to_bytes(), now, &mut out);
            }
            4 => {
                now += u64::from(arg % 20);
                f.tick(now, &mut out);
            }
            5 => {
                let _ = f.set_edge(vlan, port, arg & 0x20 != 0, &mut out);
            }
            6 => {
                let cost = i32::from(next().unwrap_or(0) as i8) * 1_000_000;
                let _ = f.set_bonus(vlan, port, cost);
            }
            7 => f.set_enabled(arg & 0x20 != 0, now, &mut out),
            _ => {
                if vlan != 0 {
                    if arg & 0x20 != 0 {
                        f.vlan_created(vlan, &mut out);
                    } else {
                        f.vlan_removed(vlan);
                    }
                }
            }
        }
        let mut announced = BTreeMap::new();
        for e in &out {
            match e {
                Effect::Send { bpdu, .. } => {
                    assert!(f.enabled(), "BPDU sent with FSTP off");
                    assert_eq!(BpduRepr::parse(&bpdu.to_bytes()), Ok(*bpdu));
                    assert_eq!((bpdu.src, bpdu.bridge), (MAC, f.bridge_id()));
                }
                Effect::SetState { port, vlan, state } => {
                    announced.insert((*vlan, *port), *state);
                }
                Effect::Flush { .. } => assert!(f.enabled(), "flush with FSTP off"),
                Effect::Debug(ev) => {
                    let _ = (ev.category(), ev.to_string());
                }
            }
        }
        for ((vlan, port), state) in announced {
            if f.vlans().any(|v| v == vlan) {
                assert_eq!(f.state(vlan, port), state, "port {port} VLAN {vlan}");
            }
        }
        let mut text = String::new();
        f.print_all(now, &mut text);
        f.showinfo(&mut text);
    }
});
