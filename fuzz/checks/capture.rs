//! Checks of the pcap and pcapng readers and writers, shared by the `capture` fuzz target and
//! `protocol/tests/format_checks.rs`.
//!
//! Each input is read twice: as it is (garbage, mostly), and turned into a capture file written
//! with this crate's writers, one byte of which the input may then corrupt. Whatever a reader
//! accepts must be written back the same way (byte for byte in pcap, block for block in
//! pcapng); a file just written must read back to exactly the frames written.

use core::time::Duration;

use vde_protocol::pcap::{self, ByteOrder, CapturedFrame, FileHeaderRepr, PacketRecord};
use vde_protocol::pcapng::{self, BlockRepr, EnhancedPacketRepr, InterfaceRepr, SectionHeaderRepr};

pub fn check(data: &[u8]) {
    check_file(data);
    let Some((written, frames)) = build(data) else {
        return;
    };
    let read = pcap::read_frames(&written).expect("a file just written reads back");
    assert_eq!(read, frames);
    check_file(&written);
    let [_, xor, hi, lo, ..] = *data else {
        return;
    };
    if xor != 0 {
        let mut corrupt = written;
        let at = usize::from(u16::from_be_bytes([hi, lo])) % corrupt.len();
        corrupt[at] ^= xor;
        check_file(&corrupt);
    }
}

/// A capture file made of the input: first byte the format, byte order, snaplen and number of
/// interfaces; then frames, each a length byte and that many bytes. Returns the file and what
/// reading it must give.
fn build(data: &[u8]) -> Option<(Vec<u8>, Vec<CapturedFrame<'_>>)> {
    let (&flags, mut rest) = data.split_first()?;
    rest = rest.get(3..)?;
    let order = if flags & 2 == 0 {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    };
    let snaplen = if flags & 4 == 0 { 65535 } else { 20 };
    let interfaces = u32::from(flags >> 3 & 3) + 1;
    let mut frames = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let i = frames.len() as u32;
        let frame = &tail[..len];
        frames.push(CapturedFrame {
            interface_id: i % interfaces,
            timestamp: Duration::new(1_700_000_000 + u64::from(i), i * 1000 % 1_000_000_000),
            orig_len: len as u32,
            data: &frame[..len.min(snaplen as usize)],
        });
        rest = &tail[len..];
    }

    let mut out = Vec::new();
    if flags & 1 == 0 {
        let header = FileHeaderRepr {
            byte_order: order,
            ..FileHeaderRepr::ethernet(snaplen)
        };
        header.append(&mut out);
        for f in &mut frames {
            f.interface_id = 0;
            PacketRecord {
                timestamp: f.timestamp,
                orig_len: f.orig_len,
                data: f.data,
            }
            .append(&header, &mut out);
        }
    } else {
        let app = (flags & 0x20 != 0).then_some("vde_switch");
        SectionHeaderRepr {
            byte_order: order,
            ..SectionHeaderRepr::new(app)
        }
        .append(&mut out);
        let names: Vec<String> = (0..interfaces).map(|i| format!("port {i}")).collect();
        for name in &names {
            InterfaceRepr::ethernet(name, snaplen).append(order, &mut out);
        }
        for f in &frames {
            EnhancedPacketRepr {
                interface_id: f.interface_id,
                timestamp: f.timestamp.as_micros() as u64,
                orig_len: f.orig_len,
                data: f.data,
            }
            .append(order, &mut out);
        }
    }
    Some((out, frames))
}

/// Reads `data` as pcap and as pcapng; what is accepted must be written back the same way.
fn check_file(data: &[u8]) {
    if let Ok(mut reader) = pcap::Reader::new(data) {
        let header = *reader.header();
        let mut out = Vec::new();
        header.append(&mut out);
        for record in reader.by_ref() {
            let Ok(record) = record else { break };
            assert!(record.data.len() as u32 <= record.orig_len);
            record.append(&header, &mut out);
        }
        assert_eq!(
            out[..],
            data[..reader.offset()],
            "pcap rewritten byte for byte"
        );
    }

    if let Ok(reader) = pcapng::Reader::new(data) {
        let blocks: Vec<BlockRepr> = reader.map_while(Result::ok).collect();
        let mut out = Vec::new();
        let mut order = ByteOrder::NATIVE;
        for b in &blocks {
            if let BlockRepr::SectionHeader(s) = b {
                order = s.byte_order;
            }
            b.append(order, &mut out);
        }
        if !blocks.is_empty() {
            let again: Result<Vec<_>, _> = pcapng::Reader::new(&out).unwrap().collect();
            assert_eq!(
                again.as_ref(),
                Ok(&blocks),
                "pcapng rewritten block for block"
            );
        }
    }

    if let Ok(frames) = pcap::read_frames(data) {
        for f in frames {
            assert!(f.data.len() as u32 <= f.orig_len);
        }
    }
}
