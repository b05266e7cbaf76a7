//! Ethernet frame builders.

/// A MAC address.
pub type Mac = [u8; 6];

/// `ff:ff:ff:ff:ff:ff`.
pub const BROADCAST: Mac = [0xff; 6];

/// EtherType of 802.1Q tags.
pub const ETH_P_8021Q: u16 = 0x8100;
/// An EtherType for test payloads (IEEE "local experimental" 1).
pub const ETH_P_TEST: u16 = 0x88b5;

/// A locally administered unicast MAC `02:00:00:00:00:nn`.
pub fn mac(n: u8) -> Mac {
    [0x02, 0, 0, 0, 0, n]
}

/// `len` bytes of a recognisable pattern (`seed`, `seed+1`, ... wrapping).
pub fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

/// An untagged Ethernet II frame (no padding, no FCS).
pub fn eth(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An 802.1Q-tagged frame: `dst src 81 00 TCI ethertype payload`, TCI = `vid` (PCP 0, CFI 0).
pub fn vlan_tagged(dst: Mac, src: Mac, vid: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    assert!(vid < 4096);
    let mut f = Vec::with_capacity(18 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ETH_P_8021Q.to_be_bytes());
    f.extend_from_slice(&vid.to_be_bytes());
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A frame of exactly `total` bytes (at least 14) with the given addresses.
pub fn eth_sized(dst: Mac, src: Mac, total: usize, seed: u8) -> Vec<u8> {
    assert!(total >= 14);
    eth(dst, src, ETH_P_TEST, &payload(total - 14, seed))
}

/// Lower-case hex, with a space every 4 bytes and long frames abbreviated.
pub fn hex(b: &[u8]) -> String {
    let shown = if b.len() > 64 { &b[..64] } else { b };
    let mut s = String::new();
    for (i, x) in shown.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            s.push(' ');
        }
        s.push_str(&format!("{x:02x}"));
    }
    if b.len() > shown.len() {
        s.push_str(&format!(" ... ({} bytes)", b.len()));
    }
    s
}
