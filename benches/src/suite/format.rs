//! Formatting values, ranges, ratios and Markdown tables for the report.

use std::fmt::Write as _;

use crate::stats::{self, Ratio};

pub fn fmt_value(key: &str, v: f64) -> String {
    match key {
        "rx_fps" | "tx_fps" => format!("{:.0} k/s", v / 1000.0),
        "loss" => format!("{:.2} %", v * 100.0),
        k if k.contains("_ns_") => format!("{v:.0} ns"),
        "cpu_busy" => format!("{:.0} %", v * 100.0),
        _ => format!("{v:.0}"),
    }
}

pub fn fmt_range(key: &str, v: &[f64]) -> String {
    match (stats::median(v), stats::min_max(v)) {
        (Some(m), Some((lo, hi))) if v.len() > 1 => format!(
            "{} [{}..{}]",
            fmt_value(key, m),
            fmt_value(key, lo),
            fmt_value(key, hi)
        ),
        (Some(m), _) => fmt_value(key, m),
        _ => "n/a".into(),
    }
}

pub fn fmt_ratio(r: Option<Ratio>) -> String {
    r.map_or("n/a".into(), |r| r.to_string())
}

pub fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

/// A Markdown table with aligned columns.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from("|");
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            let _ = write!(s, " {c}{} |", " ".repeat(pad));
        }
        s.push('\n');
        s
    };
    let mut out = line(head.iter().map(|h| h.to_string()).collect());
    out += &line(w.iter().map(|n| "-".repeat(*n)).collect());
    for r in rows {
        out += &line(r.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(&["a", "bb"], &[vec!["ccc".into(), "d".into()]]);
        assert_eq!(t, "| a   | bb |\n| --- | -- |\n| ccc | d  |\n");
    }

    #[test]
    fn values_by_unit() {
        assert_eq!(fmt_value("clients_cpu_ns_per_rx", 1500.0), "1500 ns");
        assert_eq!(fmt_value("rx_fps", 512_000.0), "512 k/s");
        assert_eq!(
            fmt_range("loss", &[0.0, 0.01, 0.02]),
            "1.00 % [0.00 %..2.00 %]"
        );
    }
}
