//! VLAN ids and membership.

use std::fmt;

use super::port::PortId;

/// A VLAN id, 0..=4095; 4095 ([`VlanId::NONE`]) as a port's untagged VLAN means "no untagged
/// traffic". Which ids an operation accepts is the operation's business (the reference's
/// ranges differ from command to command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VlanId(u16);

impl VlanId {
    /// VLAN 0, every port's untagged VLAN at first.
    pub const DEFAULT: VlanId = VlanId(0);
    /// No untagged VLAN.
    pub const NONE: VlanId = VlanId(4095);
    /// The largest id.
    pub const MAX: u16 = 4095;

    pub const fn new(id: u16) -> Option<VlanId> {
        if id <= Self::MAX {
            Some(VlanId(id))
        } else {
            None
        }
    }

    /// The VID of an 802.1Q tag (its low 12 bits).
    pub const fn from_vid(vid: u16) -> VlanId {
        VlanId(vid & Self::MAX)
    }

    /// A VLAN id given as a console argument; `None` if no VLAN can have it.
    pub fn from_arg(n: i64) -> Option<VlanId> {
        u16::try_from(n).ok().and_then(VlanId::new)
    }

    pub const fn get(self) -> u16 {
        self.0
    }

    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Prints the number, honouring width and fill (`{:04}` is the reference's `%04d`).
impl fmt::Display for VlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Number of VLAN ids kept in the table (0..=4094); 4095 is "none".
pub const VLAN_COUNT: usize = 4095;

/// A small growable bit set of ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSet {
    words: Vec<u64>,
}

impl PortSet {
    pub fn contains(&self, p: PortId) -> bool {
        let p = p.index();
        self.words
            .get(p / 64)
            .is_some_and(|w| w & (1u64 << (p % 64)) != 0)
    }

    pub fn insert(&mut self, p: PortId) {
        let p = p.index();
        if self.words.len() <= p / 64 {
            self.words.resize(p / 64 + 1, 0);
        }
        self.words[p / 64] |= 1u64 << (p % 64);
    }

    pub fn remove(&mut self, p: PortId) {
        let p = p.index();
        if let Some(w) = self.words.get_mut(p / 64) {
            *w &= !(1u64 << (p % 64));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Members of this set or of `other`, in ascending order.
    pub fn union<'a>(&'a self, other: &'a PortSet) -> impl Iterator<Item = PortId> + 'a {
        let n = self.words.len().max(other.words.len());
        (0..n).flat_map(move |i| {
            let mut bits =
                self.words.get(i).copied().unwrap_or(0) | other.words.get(i).copied().unwrap_or(0);
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                PortId::from_index(i * 64 + b)
            })
        })
    }

    /// Members in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = PortId> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut bits = w;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                // Members were inserted as port ids, so they convert back.
                PortId::from_index(i * 64 + b)
            })
        })
    }
}

/// Members of one VLAN: ports carrying it untagged and ports carrying it tagged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vlan {
    pub untagged: PortSet,
    pub tagged: PortSet,
    /// Members the spanning tree blocked on this VLAN: nothing is read from them (but BPDUs,
    /// taken before the fabric) and nothing but BPDUs is sent to them.
    pub discarding: PortSet,
}

impl Vlan {
    pub fn has_member(&self, p: PortId) -> bool {
        self.untagged.contains(p) || self.tagged.contains(p)
    }

    pub fn is_empty(&self) -> bool {
        self.untagged.is_empty() && self.tagged.is_empty()
    }
}
