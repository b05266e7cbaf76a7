//! The MAC address table: (MAC, VLAN) → port, with ageing and a size bound.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use vde_protocol::MacAddr;

use super::port::PortId;
use super::vlan::VlanId;

/// Key as the reference builds it: the six MAC bytes little-endian plus VLAN << 48.
pub fn key(mac: MacAddr, vlan: VlanId) -> u64 {
    let m = mac.0;
    u64::from_le_bytes([m[0], m[1], m[2], m[3], m[4], m[5], 0, 0]) | (u64::from(vlan.get()) << 48)
}

/// MAC and VLAN back from a key.
pub fn unkey(k: u64) -> (MacAddr, VlanId) {
    let b = k.to_le_bytes();
    (
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]]),
        VlanId::from_vid((k >> 48) as u16),
    )
}

/// The reference's bucket function (a 64-bit mix); used for `hash/print` order
/// and as the in-memory hash, since it spreads (MAC, VLAN) keys well.
pub fn mix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k
}

/// Hasher for u64 keys using [`mix`].
#[derive(Default)]
pub struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        mix(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// One learned address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacEntry {
    pub port: PortId,
    /// Tick (seconds since start) the source was last seen.
    pub last_seen: u64,
    /// Insertion order, newest largest: the reference lists a bucket newest first.
    pub seq: u64,
}

/// Result of learning a source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learn {
    New,
    Refreshed,
    /// Seen on another port; `moved` says whether min persistence allowed the move.
    OtherPort {
        from: PortId,
        moved: bool,
    },
    /// Table full: not learned.
    Full,
}

/// Ageing parameters (seconds), console-adjustable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacTimers {
    pub expire: i64,
    pub gc_interval: i64,
    pub min_persistence: i64,
}

impl Default for MacTimers {
    fn default() -> Self {
        MacTimers {
            expire: 100,
            gc_interval: 2,
            min_persistence: 3,
        }
    }
}

/// A (MAC, VLAN) that went from the table, and the port it pointed to.
pub type Forgotten = (MacAddr, VlanId, PortId);

#[derive(Debug, Clone)]
pub struct MacTable {
    map: HashMap<u64, MacEntry, BuildHasherDefault<MixHasher>>,
    capacity: usize,
    /// Bucket count shown by `hash/showinfo` and used for `hash/print` order.
    buckets: usize,
    timers: MacTimers,
    next_seq: u64,
}

impl MacTable {
    pub fn new(buckets: usize, capacity: usize) -> MacTable {
        MacTable {
            map: HashMap::default(),
            capacity: capacity.max(1),
            buckets: buckets.max(1).next_power_of_two(),
            timers: MacTimers::default(),
            next_seq: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
    }

    /// Bucket count shown by `hash/showinfo` and used for `hash/print` order.
    pub fn buckets(&self) -> usize {
        self.buckets
    }

    pub fn timers(&self) -> MacTimers {
        self.timers
    }

    pub fn set_timers(&mut self, timers: MacTimers) {
        self.timers = timers;
    }

    pub fn lookup(&self, mac: MacAddr, vlan: VlanId) -> Option<PortId> {
        self.map.get(&key(mac, vlan)).map(|e| e.port)
    }

    pub fn get(&self, mac: MacAddr, vlan: VlanId) -> Option<&MacEntry> {
        self.map.get(&key(mac, vlan))
    }

    /// Learn that `mac` on `vlan` was seen on `port` at tick `now`.
    pub fn learn(&mut self, mac: MacAddr, vlan: VlanId, port: PortId, now: u64) -> Learn {
        let k = key(mac, vlan);
        if let Some(e) = self.map.get_mut(&k) {
            if e.port == port {
                e.last_seen = now;
                return Learn::Refreshed;
            }
            let from = e.port;
            let idle = now as i64 - e.last_seen as i64;
            let moved = idle > self.timers.min_persistence;
            if moved {
                e.port = port;
                e.last_seen = now;
            }
            return Learn::OtherPort { from, moved };
        }
        if self.map.len() >= self.capacity {
            return Learn::Full;
        }
        self.next_seq += 1;
        self.map.insert(
            k,
            MacEntry {
                port,
                last_seen: now,
                seq: self.next_seq,
            },
        );
        Learn::New
    }

    /// Remove entries not seen for longer than the expiry; returns what went.
    pub fn expire(&mut self, now: u64, gone: &mut Vec<Forgotten>) {
        let expire = self.timers.expire;
        self.remove_entries(
            |_, e| (e.last_seen as i64).saturating_add(expire) < now as i64,
            gone,
        );
    }

    /// Remove every entry matching `pred(vlan, port)`.
    pub fn remove_where(
        &mut self,
        mut pred: impl FnMut(VlanId, PortId) -> bool,
        gone: &mut Vec<Forgotten>,
    ) {
        self.remove_entries(|k, e| pred(unkey(k).1, e.port), gone);
    }

    /// Remove matching entries, reporting them in table order (ascending
    /// bucket, newest first), the order the reference announces deletions in.
    fn remove_entries(
        &mut self,
        mut pred: impl FnMut(u64, &MacEntry) -> bool,
        gone: &mut Vec<Forgotten>,
    ) {
        let mask = (self.buckets - 1) as u64;
        let mut doomed: Vec<(u64, u64, u64)> = self
            .map
            .iter()
            .filter(|(&k, e)| pred(k, e))
            .map(|(&k, e)| (mix(k) & mask, u64::MAX - e.seq, k))
            .collect();
        doomed.sort_unstable();
        for (_, _, k) in doomed {
            if let Some(e) = self.map.remove(&k) {
                let (mac, vlan) = unkey(k);
                gone.push((mac, vlan, e.port));
            }
        }
    }

    /// Entries in the reference's print order: ascending bucket, newest first
    /// inside a bucket.
    pub fn entries_in_print_order(&self) -> Vec<(usize, MacAddr, VlanId, MacEntry)> {
        let mask = (self.buckets - 1) as u64;
        let mut v: Vec<_> = self
            .map
            .iter()
            .map(|(&k, e)| {
                let (mac, vlan) = unkey(k);
                ((mix(k) & mask) as usize, mac, vlan, *e)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0).then(b.3.seq.cmp(&a.3.seq)));
        v
    }

    /// Bucket of an entry, as `hash/print` shows it.
    pub fn bucket_of(&self, mac: MacAddr, vlan: VlanId) -> usize {
        (mix(key(mac, vlan)) & (self.buckets as u64 - 1)) as usize
    }

    /// Change the bucket count (rounded up to a power of two); flushes the table as the reference does.
    pub fn set_buckets(&mut self, n: usize, gone: &mut Vec<Forgotten>) {
        self.buckets = n.max(1).next_power_of_two();
        self.remove_where(|_, _| true, gone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(last: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, last])
    }

    const V0: VlanId = VlanId::DEFAULT;
    const P1: PortId = PortId(1);
    const P2: PortId = PortId(2);

    #[test]
    fn buckets_match_reference_observations() {
        let t = MacTable::new(128, 10);
        assert_eq!(t.bucket_of(mac(0x0a), V0), 9);
        assert_eq!(t.bucket_of(mac(0x0b), V0), 26);
        assert_eq!(t.bucket_of(mac(0x01), V0), 43);
        assert_eq!(t.bucket_of(mac(0x02), V0), 60);
    }

    #[test]
    fn min_persistence_blocks_quick_moves() {
        let mut t = MacTable::new(128, 10);
        assert_eq!(t.learn(mac(1), V0, P1, 10), Learn::New);
        assert_eq!(t.learn(mac(1), V0, P1, 11), Learn::Refreshed);
        assert_eq!(
            t.learn(mac(1), V0, P2, 13),
            Learn::OtherPort {
                from: P1,
                moved: false
            }
        );
        assert_eq!(t.lookup(mac(1), V0), Some(P1));
        assert_eq!(
            t.learn(mac(1), V0, P2, 15),
            Learn::OtherPort {
                from: P1,
                moved: true
            }
        );
        assert_eq!(t.lookup(mac(1), V0), Some(P2));
    }

    #[test]
    fn bounded_and_expiring() {
        let mut t = MacTable::new(128, 2);
        assert_eq!(t.learn(mac(1), V0, P1, 0), Learn::New);
        assert_eq!(t.learn(mac(2), V0, P1, 0), Learn::New);
        assert_eq!(t.learn(mac(3), V0, P1, 0), Learn::Full);
        assert_eq!(t.learn(mac(1), VlanId::from_vid(5), P1, 0), Learn::Full);
        let mut gone = Vec::new();
        t.learn(mac(2), V0, P1, 50);
        t.expire(101, &mut gone);
        assert_eq!(gone, vec![(mac(1), V0, P1)]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.learn(mac(3), V0, P1, 101), Learn::New);
    }

    #[test]
    fn key_roundtrip() {
        let v = VlanId::from_vid(4094);
        let k = key(MacAddr([1, 2, 3, 4, 5, 6]), v);
        assert_eq!(unkey(k), (MacAddr([1, 2, 3, 4, 5, 6]), v));
    }
}
