//! The Markdown report: header, goal table, every metric of the goal suite, the scaling curve,
//! memory, the machine floor and the flood.

use std::fmt::Write as _;

use super::format::{fmt_range, fmt_ratio, mib, table};
use super::goals::{self, Goal};
use super::results::Results;
use super::{Config, OURS, REF, REFB};
use crate::stats;

/// The whole report, Markdown.
pub fn report(cfg: &Config, res: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## vdeperf results\n");
    for h in &res.header {
        let _ = writeln!(out, "- {h}");
    }
    for n in &res.notes {
        let _ = writeln!(out, "- **{n}**");
    }
    let _ = writeln!(
        out,
        "\nRatios are ours (or refB) / ref: ratio of the medians, [min..max] of the per-rep ratios \
         (both measured back to back in the same rep). refB is a second instance of the reference: \
         its ratio is the noise floor (A/A control).\n"
    );

    let _ = writeln!(out, "### Goals (issue 6)\n");
    out += &table(
        &[
            "goal",
            "measure",
            "ref (median [min..max])",
            "A/A: refB",
            "ours",
            "target",
            "status",
        ],
        &goals::table(cfg, res)
            .into_iter()
            .map(Goal::cells)
            .collect::<Vec<_>>(),
    );

    if cfg.goals {
        let _ = writeln!(out, "\n### All metrics of the goal suite\n");
        let mut rows = Vec::new();
        for t in &cfg.tests {
            for key in [
                "rx_fps",
                "loss",
                "sw_cpu_ns_per_rx",
                "clients_cpu_ns_per_rx",
                "cpu_busy",
                "tx_fps",
                "leak",
                "other",
            ] {
                let cell = |sw| fmt_range(key, &res.present(t.name, sw, key));
                rows.push(vec![
                    t.name.to_string(),
                    key.to_string(),
                    cell(REF),
                    cell(REFB),
                    cell(OURS),
                    fmt_ratio(res.ratio(t.name, REFB, REF, key)),
                    fmt_ratio(res.ratio(t.name, OURS, REF, key)),
                ]);
            }
            if t.stuck {
                let b = |sw: &str| {
                    res.blaster
                        .get(sw)
                        .map_or("n/a".into(), |v| fmt_range("tx_fps", v))
                };
                rows.push(vec![
                    t.name.to_string(),
                    "stuck flow accepted".into(),
                    b(REF),
                    b(REFB),
                    b(OURS),
                    "".into(),
                    "".into(),
                ]);
            }
        }
        out += &table(
            &[
                "test", "metric", "ref", "refB", "ours", "refB/ref", "ours/ref",
            ],
            &rows,
        );
    }

    if cfg.curve {
        let _ = writeln!(
            out,
            "\n### Scaling: switch CPU per delivered frame, 1→1 64 B, other ports attached and idle\n"
        );
        let key = "sw_cpu_ns_per_rx";
        let mut rows = Vec::new();
        for &n in &cfg.curve_ports {
            let t = format!("curve{n}");
            let cell = |sw| fmt_range(key, &res.present(&t, sw, key));
            rows.push(vec![
                n.to_string(),
                cell(REF),
                cell(REFB),
                cell(OURS),
                fmt_ratio(res.ratio(&t, OURS, REF, key)),
                fmt_range("rx_fps", &res.present(&t, REF, "rx_fps")),
                fmt_range("rx_fps", &res.present(&t, OURS, "rx_fps")),
            ]);
        }
        out += &table(
            &[
                "ports",
                "ref ns/frame",
                "refB ns/frame",
                "ours ns/frame",
                "ours/ref",
                "ref rx_fps",
                "ours rx_fps",
            ],
            &rows,
        );
    }

    if cfg.rss {
        let _ = writeln!(
            out,
            "\n### Memory with {} ports attached (each sent one broadcast)\n",
            cfg.rss_ports
        );
        let rows: Vec<Vec<String>> = res
            .rss
            .iter()
            .map(|(sw, rss, hwm)| vec![sw.clone(), mib(*rss), mib(*hwm)])
            .collect();
        out += &table(&["switch", "VmRSS", "VmHWM (peak since start)"], &rows);
    }

    if cfg.floor {
        out += &floor_report(cfg, res);
    }

    if cfg.flood {
        let _ = writeln!(
            out,
            "\n### MAC flood: VmRSS while one port sends frames with random source MACs\n"
        );
        let mut rows = Vec::new();
        for (sw, points) in &res.flood {
            for p in points {
                rows.push(vec![
                    sw.clone(),
                    p.frames.to_string(),
                    mib(p.rss_kb),
                    format!("{:.1} s", p.secs),
                ]);
            }
        }
        out += &table(&["switch", "frames sent", "VmRSS", "elapsed"], &rows);
    }
    out
}

/// The floor table: each floor, and the 1→1 CPU per frame of the switches (and the goal) as
/// multiples of the one-process floor.
fn floor_report(cfg: &Config, res: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n### Machine floor: 64 B datagrams over AF_UNIX with no switch\n"
    );
    let key = "sw_cpu_ns_per_rx";
    let pair = res
        .floor
        .iter()
        .find(|(t, _)| t.name == "pair")
        .and_then(|(_, v)| stats::median(v));
    let times_pair = |ns: Option<f64>| match (ns, pair) {
        (Some(ns), Some(p)) if p > 0.0 => format!("{:.2}x", ns / p),
        _ => "n/a".into(),
    };
    let mut rows: Vec<Vec<String>> = res
        .floor
        .iter()
        .map(|(t, v)| {
            vec![
                t.what.to_string(),
                fmt_range(key, v),
                times_pair(stats::median(v)),
            ]
        })
        .collect();
    let uni = cfg.goals && cfg.tests.iter().any(|t| t.name == "uni2_64B");
    if uni {
        let r = res.median("uni2_64B", REF, key);
        for (label, sw) in [
            ("reference, 1→1 (uni2_64B)", REF),
            ("ours, 1→1 (uni2_64B)", OURS),
        ] {
            let v = res.present("uni2_64B", sw, key);
            rows.push(vec![
                label.into(),
                fmt_range(key, &v),
                times_pair(stats::median(&v)),
            ]);
        }
        rows.push(vec![
            "goal: 0.6 x the reference".into(),
            r.map_or("n/a".into(), |r| format!("{:.0} ns", 0.6 * r)),
            times_pair(r.map(|r| 0.6 * r)),
        ]);
    }
    out += &table(
        &["what", "CPU ns per frame", "x one-process send+recv"],
        &rows,
    );
    out
}
