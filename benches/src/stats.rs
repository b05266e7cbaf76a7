//! Medians and ratios: the ratio of the medians, and the range of the per-repetition ratios.

/// Median (mean of the two middle values for an even count); None when empty.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

pub fn min_max(v: &[f64]) -> Option<(f64, f64)> {
    let lo = v.iter().copied().reduce(f64::min)?;
    let hi = v.iter().copied().reduce(f64::max)?;
    Some((lo, hi))
}

/// A ratio of a candidate to the reference: the ratio of the medians, and the range of the
/// per-repetition ratios (each repetition measures both back to back).
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub reps: usize,
}

/// `cand` and `base` are per-repetition values, paired by repetition (None = that run failed).
pub fn ratio(cand: &[Option<f64>], base: &[Option<f64>]) -> Option<Ratio> {
    let c: Vec<f64> = cand.iter().flatten().copied().collect();
    let b: Vec<f64> = base.iter().flatten().copied().collect();
    let (mc, mb) = (median(&c)?, median(&b)?);
    if mb == 0.0 {
        return None;
    }
    let per: Vec<f64> = cand
        .iter()
        .zip(base)
        .filter_map(|(c, b)| match (c, b) {
            (Some(c), Some(b)) if *b != 0.0 => Some(c / b),
            _ => None,
        })
        .collect();
    let (min, max) = min_max(&per).unwrap_or((mc / mb, mc / mb));
    Some(Ratio {
        median: mc / mb,
        min,
        max,
        reps: per.len(),
    })
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2}x [{:.2}..{:.2}]", self.median, self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let r = ratio(
            &[Some(1.0), Some(2.0), None],
            &[Some(2.0), Some(2.0), Some(2.0)],
        )
        .unwrap();
        assert_eq!((r.median, r.min, r.max, r.reps), (0.75, 0.5, 1.0, 2));
    }
}
