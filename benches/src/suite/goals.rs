//! The goal table: for each goal, the measure, the reference's value, the A/A control, ours,
//! the target and whether it is met.

use super::format::{fmt_range, fmt_ratio, mib};
use super::results::Results;
use super::{Config, OURS, REF, REFB};
use crate::client::FloodPoint;
use crate::stats::Ratio;

/// The goals the configuration measured, in report order.
pub fn table(cfg: &Config, res: &Results) -> Vec<Goal> {
    let test_names: Vec<&str> = cfg.tests.iter().map(|t| t.name).collect();
    let has = |t: &str| test_names.contains(&t);
    let mut goals = Vec::new();
    if cfg.goals && has("uni2_64B") {
        goals.push(ratio_goal(
            res,
            "1→1 switch CPU per 64 B frame",
            "uni2_64B",
            "sw_cpu_ns_per_rx",
            0.6,
            true,
        ));
        goals.push(loss_goal(res, "uni2_64B"));
    }
    if cfg.goals && has("stuck_uni2_64B") {
        goals.push(stuck_goal(res, "stuck_uni2_64B"));
    }
    for (t, goal, target) in [
        ("pairs8_64B", "4 concurrent pairs: delivered frames/s", 2.0),
        ("bcast8_64B", "broadcast 1→7: delivered frames/s", 2.0),
        (
            "uni31_64B",
            "1→1 with 31 ports attached: delivered frames/s",
            3.0,
        ),
    ] {
        if cfg.goals && has(t) {
            goals.push(ratio_goal(res, goal, t, "rx_fps", target, false));
        }
    }
    if cfg.curve {
        goals.push(flat_goal(res, cfg));
    }
    if cfg.rss {
        goals.push(rss_goal(res, cfg));
    }
    if cfg.flood {
        goals.push(flood_goal(res));
    }
    goals
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every repetition meets the goal.
    Met,
    /// The median meets it, some repetitions do not.
    MetMedian,
    NotMet,
    NotMeasured,
}

impl Status {
    pub fn text(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::MetMedian => "met (median; not every rep)",
            Status::NotMet => "NOT met",
            Status::NotMeasured => "not measured",
        }
    }
}

fn ratio_status(r: Option<Ratio>, ok: impl Fn(f64) -> bool) -> Status {
    match r {
        None => Status::NotMeasured,
        Some(r) if ok(r.min) && ok(r.max) => Status::Met,
        Some(r) if ok(r.median) => Status::MetMedian,
        Some(_) => Status::NotMet,
    }
}

/// One row of the goal table.
pub struct Goal {
    goal: String,
    measure: String,
    reference: String,
    aa: String,
    ours: String,
    target: String,
    status: Status,
}

impl Goal {
    pub fn cells(self) -> Vec<String> {
        vec![
            self.goal,
            self.measure,
            self.reference,
            self.aa,
            self.ours,
            self.target,
            self.status.text().into(),
        ]
    }
}

pub fn ratio_goal(
    res: &Results,
    goal: &str,
    test: &str,
    key: &str,
    target: f64,
    at_most: bool,
) -> Goal {
    let ours = res.ratio(test, OURS, REF, key);
    let ok = |x: f64| if at_most { x <= target } else { x >= target };
    Goal {
        goal: goal.into(),
        measure: format!("{test} {key}"),
        reference: fmt_range(key, &res.present(test, REF, key)),
        aa: fmt_ratio(res.ratio(test, REFB, REF, key)),
        ours: fmt_ratio(ours),
        target: format!("{} {target:.2}x", if at_most { "≤" } else { "≥" }),
        status: ratio_status(ours, ok),
    }
}

/// Frames lost per repetition (tx - rx), from the load generator's counts.
fn lost(res: &Results, test: &str, sw: &str) -> Vec<Option<f64>> {
    res.values(test, sw, "tx")
        .into_iter()
        .zip(res.values(test, sw, "rx"))
        .map(|(t, r)| Some((t? - r?).max(0.0)))
        .collect()
}

fn loss_goal(res: &Results, test: &str) -> Goal {
    let key = "loss";
    let lost_ours: Vec<f64> = lost(res, test, OURS).into_iter().flatten().collect();
    let reps_lossy = lost_ours.iter().filter(|&&l| l > 0.0).count();
    Goal {
        goal: "1→1 sender flat out: no loss".into(),
        measure: format!("{test} loss"),
        reference: fmt_range(key, &res.present(test, REF, key)),
        aa: format!("refB {}", fmt_range(key, &res.present(test, REFB, key))),
        ours: if lost_ours.is_empty() {
            "n/a".into()
        } else {
            format!(
                "{} ({reps_lossy} of {} reps lost frames)",
                fmt_range(key, &res.present(test, OURS, key)),
                lost_ours.len()
            )
        },
        target: "0 in every rep".into(),
        status: if lost_ours.is_empty() {
            Status::NotMeasured
        } else if reps_lossy == 0 {
            Status::Met
        } else {
            Status::NotMet
        },
    }
}

fn stuck_goal(res: &Results, test: &str) -> Goal {
    let key = "rx_fps";
    let r = res.ratio(test, OURS, REF, key);
    let lost_ours: Vec<f64> = lost(res, test, OURS).into_iter().flatten().collect();
    let reps_lossy = lost_ours.iter().filter(|&&l| l > 0.0).count();
    let flows = ratio_status(r, |x| x >= 0.5);
    let status = match flows {
        Status::NotMeasured => Status::NotMeasured,
        _ if reps_lossy > 0 => Status::NotMet,
        s => s,
    };
    Goal {
        goal: "stuck receiver on 2 other ports: the 1→1 pair keeps flowing".into(),
        measure: format!("{test} rx_fps, loss"),
        reference: format!(
            "{}, loss {}",
            fmt_range(key, &res.present(test, REF, key)),
            fmt_range("loss", &res.present(test, REF, "loss"))
        ),
        aa: fmt_ratio(res.ratio(test, REFB, REF, key)),
        ours: if lost_ours.is_empty() {
            "n/a".into()
        } else {
            format!(
                "{}, loss {}",
                fmt_ratio(r),
                fmt_range("loss", &res.present(test, OURS, "loss"))
            )
        },
        target: "≥ 0.50x, loss 0".into(),
        status,
    }
}

/// Median sw_cpu_ns_per_rx of one switch at the smallest and the largest curve point.
fn curve_ends(res: &Results, cfg: &Config, sw: &str) -> Option<(usize, f64, usize, f64)> {
    let lo = *cfg.curve_ports.iter().min()?;
    let hi = *cfg.curve_ports.iter().max()?;
    if lo == hi {
        return None;
    }
    let key = "sw_cpu_ns_per_rx";
    Some((
        lo,
        res.median(&format!("curve{lo}"), sw, key)?,
        hi,
        res.median(&format!("curve{hi}"), sw, key)?,
    ))
}

fn flat_goal(res: &Results, cfg: &Config) -> Goal {
    let cell = |sw| {
        curve_ends(res, cfg, sw).map_or("n/a".into(), |(_, a, _, b)| {
            format!("{:.2}x ({a:.0} → {b:.0} ns)", b / a)
        })
    };
    let ours = curve_ends(res, cfg, OURS);
    let limit = 1.25;
    Goal {
        goal: "per-frame cost flat from 2 to 256 ports".into(),
        measure: ours.map_or("curve sw_cpu_ns_per_rx".into(), |(lo, _, hi, _)| {
            format!("curve{hi} / curve{lo} sw_cpu_ns_per_rx, same switch")
        }),
        reference: cell(REF),
        aa: format!("refB {}", cell(REFB)),
        ours: cell(OURS),
        target: format!("ours ≤ {limit:.2}x"),
        status: match ours {
            None => Status::NotMeasured,
            Some((_, a, _, b)) if b / a <= limit => Status::Met,
            Some(_) => Status::NotMet,
        },
    }
}

fn rss_goal(res: &Results, cfg: &Config) -> Goal {
    let get = |sw: &str| res.rss.iter().find(|r| r.0 == sw).map(|r| r.1);
    let limit_kb = 8 * 1024;
    Goal {
        goal: format!("RSS with {} ports attached", cfg.rss_ports),
        measure: "VmRSS".into(),
        reference: get(REF).map_or("n/a".into(), mib),
        aa: format!("refB {}", get(REFB).map_or("n/a".into(), mib)),
        ours: get(OURS).map_or("n/a".into(), mib),
        target: "ours ≤ 8 MiB".into(),
        status: match get(OURS) {
            None => Status::NotMeasured,
            Some(kb) if kb <= limit_kb => Status::Met,
            Some(_) => Status::NotMet,
        },
    }
}

/// RSS growth over the whole flood and over its second half (kB), frames sent.
fn flood_growth(points: &[FloodPoint]) -> Option<(i64, i64, u64)> {
    let first = points.first()?;
    let last = points.last()?;
    let half = last.frames / 2;
    let mid = points.iter().find(|p| p.frames >= half)?;
    Some((
        last.rss_kb as i64 - first.rss_kb as i64,
        last.rss_kb as i64 - mid.rss_kb as i64,
        last.frames,
    ))
}

fn flood_goal(res: &Results) -> Goal {
    let get = |sw: &str| {
        res.flood
            .iter()
            .find(|f| f.0 == sw)
            .and_then(|f| flood_growth(&f.1))
    };
    let cell = |g: Option<(i64, i64, u64)>| {
        g.map_or("n/a".into(), |(all, half, n)| {
            format!(
                "{:+.1} MiB after {}k frames, {:+.1} MiB in the 2nd half",
                all as f64 / 1024.0,
                n / 1000,
                half as f64 / 1024.0
            )
        })
    };
    let ours = get(OURS);
    Goal {
        goal: "memory bounded under a flood of random source MACs".into(),
        measure: "VmRSS growth".into(),
        reference: cell(get(REF)),
        aa: "-".into(),
        ours: cell(ours),
        target: "ours: 2nd half ≤ +1 MiB".into(),
        status: match ours {
            None => Status::NotMeasured,
            Some((_, half, _)) if half <= 1024 => Status::Met,
            Some(_) => Status::NotMet,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::Sample;

    fn sample(pairs: &[(&str, f64)]) -> Option<Sample> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn goal_statuses() {
        let mut res = Results::default();
        for rep in 0..3 {
            res.push(
                "uni2_64B",
                REF,
                rep,
                sample(&[
                    ("sw_cpu_ns_per_rx", 1000.0),
                    ("tx", 100.0),
                    ("rx", 97.0),
                    ("loss", 0.03),
                ]),
            );
            res.push(
                "uni2_64B",
                REFB,
                rep,
                sample(&[
                    ("sw_cpu_ns_per_rx", 1010.0),
                    ("tx", 100.0),
                    ("rx", 98.0),
                    ("loss", 0.02),
                ]),
            );
            let cpu = if rep == 1 { 700.0 } else { 500.0 };
            res.push(
                "uni2_64B",
                OURS,
                rep,
                sample(&[
                    ("sw_cpu_ns_per_rx", cpu),
                    ("tx", 100.0),
                    ("rx", 100.0),
                    ("loss", 0.0),
                ]),
            );
        }
        let g = ratio_goal(&res, "cpu", "uni2_64B", "sw_cpu_ns_per_rx", 0.6, true);
        assert_eq!(g.status, Status::MetMedian);
        assert_eq!(loss_goal(&res, "uni2_64B").status, Status::Met);
        let g = ratio_goal(&res, "cpu", "uni2_64B", "sw_cpu_ns_per_rx", 0.8, true);
        assert_eq!(g.status, Status::Met);
        assert_eq!(
            ratio_goal(&res, "x", "pairs8_64B", "rx_fps", 2.0, false).status,
            Status::NotMeasured
        );
    }

    #[test]
    fn flood_growth_uses_the_second_half() {
        let p = |frames, rss_kb| FloodPoint {
            frames,
            rss_kb,
            secs: 0.0,
        };
        let pts = [
            p(0, 1000),
            p(100, 3000),
            p(200, 3100),
            p(300, 3200),
            p(400, 3300),
        ];
        assert_eq!(flood_growth(&pts), Some((2300, 200, 400)));
    }
}
