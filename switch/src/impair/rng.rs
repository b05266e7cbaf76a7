//! The random numbers behind every impairment decision: a seeded SplitMix64
//! generator and netem-style correlation on top of it.
//!
//! The generator is ours (a dozen lines) rather than a crate's so that a seed
//! gives the same frames lost, duplicated and delayed on every build: a lab
//! can replay an experiment with `seed N`, and the tests can assert exact
//! outcomes. SplitMix64 passes BigCrush, has a 2^64 period and needs no setup,
//! which is all a traffic disturber needs; it is not for cryptography.

/// SplitMix64 (Steele, Lea and Flood, 2014).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiplying instead of dividing; the
    /// bias is below `n / 2^64`, far under anything a test could see.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// A probability as netem stores it: a fraction of 2^32, so that 100 % is
/// representable and an event is `random_u32 < threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Threshold(u64);

impl Threshold {
    pub const NEVER: Threshold = Threshold(0);
    pub const ALWAYS: Threshold = Threshold(1 << 32);

    /// `percent` in 0..=100.
    pub fn from_percent(percent: f64) -> Threshold {
        let t = (percent / 100.0 * (1u64 << 32) as f64).round();
        Threshold((t.max(0.0) as u64).min(1 << 32))
    }

    /// Whether a uniform 64-bit value falls under the threshold (its high 32 bits are used).
    pub fn hit(self, uniform: u64) -> bool {
        (uniform >> 32) < self.0
    }
}

/// A stream of uniform 64-bit values where each value repeats the previous one
/// with probability `rho` and is fresh otherwise.
///
/// netem mixes the fresh value with the previous one (`(1-ρ)·new + ρ·last`),
/// which narrows the distribution: with a correlation, `loss 10%` no longer
/// loses 10 % and jitter no longer spans its range (netem's own manual calls
/// its loss correlation deprecated for that). Repeating instead keeps every
/// value exactly uniform, so the percentages and ranges stay what was asked,
/// while consecutive frames still share their fate with probability `rho`
/// (lag-k correlation `rho^k`): losses come in bursts, delays drift slowly.
#[derive(Debug, Clone, Default)]
pub struct Correlated {
    rho: Threshold,
    last: Option<u64>,
}

impl Correlated {
    pub fn new(rho: Threshold) -> Correlated {
        Correlated { rho, last: None }
    }

    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        if let Some(last) = self.last {
            if self.rho != Threshold::NEVER && self.rho.hit(rng.next_u64()) {
                return last;
            }
        }
        let v = rng.next_u64();
        self.last = Some(v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs for seed 1234567, as published with the algorithm.
        let mut r = Rng::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
        assert_eq!(r.next_u64(), 9817491932198370423);
    }

    #[test]
    fn threshold_bounds() {
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let u = r.next_u64();
            assert!(!Threshold::NEVER.hit(u));
            assert!(Threshold::ALWAYS.hit(u));
            assert!(Threshold::from_percent(100.0).hit(u));
            assert!(!Threshold::from_percent(0.0).hit(u));
        }
        assert!(Threshold::from_percent(50.0).hit(0x7fff_ffff_ffff_ffff));
        assert!(!Threshold::from_percent(50.0).hit(0x8000_0000_0000_0000));
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::new(7);
        for n in [1u64, 2, 3, 10, 1 << 40] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
    }

    #[test]
    fn full_correlation_repeats_forever() {
        let mut r = Rng::new(3);
        let mut c = Correlated::new(Threshold::ALWAYS);
        let first = c.next(&mut r);
        for _ in 0..100 {
            assert_eq!(c.next(&mut r), first);
        }
        let mut c = Correlated::new(Threshold::NEVER);
        let a = c.next(&mut r);
        assert_ne!(c.next(&mut r), a);
    }
}
