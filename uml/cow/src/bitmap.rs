//! The dirty-sector bitmap: one bit per sector, sector `n` is bit `n % 8` (least significant
//! first) of byte `n / 8`. Handled byte by byte, so it does not depend on the host's endianness.

/// The bitmap of a COW file, with bits at or past the sector count cleared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    bytes: Vec<u8>,
    sectors: u64,
    stray_bits: u32,
}

/// A maximal run of sectors that are all dirty or all clean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub start: u64,
    pub len: u64,
    pub dirty: bool,
}

impl Run {
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

impl Bitmap {
    /// An all-clean bitmap.
    pub fn empty(sectors: u64) -> Bitmap {
        Bitmap {
            bytes: vec![0; sectors.div_ceil(8) as usize],
            sectors,
            stray_bits: 0,
        }
    }

    /// From on-disk bytes. Missing bytes count as clean; bits at or past `sectors` (and bytes
    /// beyond what the sectors need) are dropped and counted in [`Bitmap::stray_bits`].
    pub fn from_bytes(mut bytes: Vec<u8>, sectors: u64) -> Bitmap {
        let need = sectors.div_ceil(8) as usize;
        let mut stray = 0u32;
        if bytes.len() > need {
            stray += bytes[need..].iter().map(|b| b.count_ones()).sum::<u32>();
        }
        bytes.resize(need, 0);
        let tail_bits = (sectors % 8) as u32;
        if tail_bits != 0 {
            let last = bytes.last_mut().unwrap();
            let mask = (1u8 << tail_bits) - 1;
            stray += (*last & !mask).count_ones();
            *last &= mask;
        }
        Bitmap {
            bytes,
            sectors,
            stray_bits: stray,
        }
    }

    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    /// The bytes as stored (ceil(sectors / 8) of them).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Bits that were set at or past the sector count in the on-disk bytes (ignored).
    pub fn stray_bits(&self) -> u32 {
        self.stray_bits
    }

    pub fn is_dirty(&self, sector: u64) -> bool {
        sector < self.sectors && self.bytes[(sector / 8) as usize] & (1 << (sector % 8)) != 0
    }

    pub fn set(&mut self, sector: u64) {
        assert!(sector < self.sectors, "sector {sector} out of range");
        self.bytes[(sector / 8) as usize] |= 1 << (sector % 8);
    }

    /// Number of dirty sectors.
    pub fn dirty_count(&self) -> u64 {
        self.bytes.iter().map(|b| b.count_ones() as u64).sum()
    }

    /// All runs, alternating clean and dirty, covering sectors `0..sectors` in order.
    pub fn runs(&self) -> Runs<'_> {
        Runs { map: self, pos: 0 }
    }

    /// Only the dirty runs.
    pub fn dirty_runs(&self) -> impl Iterator<Item = Run> + '_ {
        self.runs().filter(|r| r.dirty)
    }

    /// The first sector at or after `from` whose bit is `value` (or `sectors`).
    fn next_with(&self, from: u64, value: bool) -> u64 {
        let skip = if value { 0x00 } else { 0xFF };
        let mut s = from;
        while s < self.sectors {
            let byte = self.bytes[(s / 8) as usize];
            if s & 7 == 0 && byte == skip {
                // Whole bytes at a time; then whole 8-byte words.
                let mut i = (s / 8) as usize + 1;
                while i + 8 <= self.bytes.len()
                    && u64::from_ne_bytes(self.bytes[i..i + 8].try_into().unwrap())
                        == if value { 0 } else { u64::MAX }
                {
                    i += 8;
                }
                while i < self.bytes.len() && self.bytes[i] == skip {
                    i += 1;
                }
                s = i as u64 * 8;
                continue;
            }
            if (byte >> (s % 8)) & 1 == value as u8 {
                return s;
            }
            s += 1;
        }
        self.sectors
    }
}

/// Iterator over the runs of a bitmap.
pub struct Runs<'a> {
    map: &'a Bitmap,
    pos: u64,
}

impl Iterator for Runs<'_> {
    type Item = Run;
    fn next(&mut self) -> Option<Run> {
        if self.pos >= self.map.sectors {
            return None;
        }
        let dirty = self.map.is_dirty(self.pos);
        let end = self.map.next_with(self.pos, !dirty).min(self.map.sectors);
        let run = Run {
            start: self.pos,
            len: end - self.pos,
            dirty,
        };
        self.pos = end;
        Some(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_order_is_lsb_first() {
        let mut b = Bitmap::empty(2048);
        for s in [0, 5, 6, 7] {
            b.set(s);
        }
        b.set(100);
        b.set(101);
        b.set(2047);
        assert_eq!(b.as_bytes()[0], 0xE1);
        assert_eq!(b.as_bytes()[12], 0x30);
        assert_eq!(b.as_bytes()[255], 0x80);
        let k = Bitmap::from_bytes(vec![0x3C], 8);
        assert_eq!(
            (0..8).filter(|&s| k.is_dirty(s)).collect::<Vec<_>>(),
            [2, 3, 4, 5]
        );
    }

    #[test]
    fn stray_bits_are_dropped() {
        // 10 sectors: bits 10..15 of the second byte and a whole third byte are strays.
        let b = Bitmap::from_bytes(vec![0xFF, 0xFF, 0x01], 10);
        assert_eq!(b.stray_bits(), 7);
        assert_eq!(b.dirty_count(), 10);
        assert_eq!(b.as_bytes(), &[0xFF, 0x03]);
        // Missing bytes are clean.
        assert_eq!(Bitmap::from_bytes(vec![], 20).dirty_count(), 0);
    }

    fn naive_runs(b: &Bitmap) -> Vec<Run> {
        let mut out: Vec<Run> = Vec::new();
        for s in 0..b.sectors() {
            let d = b.is_dirty(s);
            match out.last_mut() {
                Some(r) if r.dirty == d => r.len += 1,
                _ => out.push(Run {
                    start: s,
                    len: 1,
                    dirty: d,
                }),
            }
        }
        out
    }

    #[test]
    fn runs_match_a_naive_scan() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        for sectors in [1u64, 7, 8, 9, 63, 64, 65, 200, 1000, 4099] {
            for density in [0u64, 1, 10, 50, 90, 100] {
                let mut b = Bitmap::empty(sectors);
                let mut s = 0;
                while s < sectors {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let run = 1 + seed % 100;
                    let dirty = seed % 100 < density;
                    for x in s..(s + run).min(sectors) {
                        if dirty {
                            b.set(x);
                        }
                    }
                    s += run;
                }
                assert_eq!(
                    b.runs().collect::<Vec<_>>(),
                    naive_runs(&b),
                    "{sectors} sectors, density {density}"
                );
            }
        }
    }
}
