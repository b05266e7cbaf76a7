//! VLAN membership.

use super::port::PortId;

/// Number of VLAN ids kept in the table (0..=4094); 4095 is "none".
pub const VLAN_COUNT: usize = 4095;

/// A small growable bit set of ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSet {
    words: Vec<u64>,
}

impl PortSet {
    pub fn contains(&self, p: PortId) -> bool {
        self.words
            .get(p / 64)
            .is_some_and(|w| w & (1u64 << (p % 64)) != 0)
    }

    pub fn insert(&mut self, p: PortId) {
        if self.words.len() <= p / 64 {
            self.words.resize(p / 64 + 1, 0);
        }
        self.words[p / 64] |= 1u64 << (p % 64);
    }

    pub fn remove(&mut self, p: PortId) {
        if let Some(w) = self.words.get_mut(p / 64) {
            *w &= !(1u64 << (p % 64));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
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
                Some(i * 64 + b)
            })
        })
    }
}

/// Members of one VLAN: ports carrying it untagged and ports carrying it tagged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vlan {
    pub untagged: PortSet,
    pub tagged: PortSet,
}

impl Vlan {
    pub fn has_member(&self, p: PortId) -> bool {
        self.untagged.contains(p) || self.tagged.contains(p)
    }

    pub fn is_empty(&self) -> bool {
        self.untagged.is_empty() && self.tagged.is_empty()
    }
}
