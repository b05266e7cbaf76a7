//! What a run measured: one sample per (test, switch, repetition), the RSS readings, the flood
//! curves, the floors, and the notes and header lines of the report.

use std::collections::HashMap;

use crate::client::FloodPoint;
use crate::floor::FloorTest;
use crate::loadgen::Sample;
use crate::stats::{self, Ratio};

/// Everything measured, by (test, switch), one slot per repetition.
#[derive(Default)]
pub struct Results {
    runs: HashMap<(String, String), Vec<Option<Sample>>>,
    /// (switch, VmRSS kB, VmHWM kB) with `rss_ports` ports attached.
    pub rss: Vec<(String, u64, u64)>,
    pub flood: Vec<(String, Vec<FloodPoint>)>,
    /// Frames/s the stuck test's blaster got accepted, per switch, per run.
    pub blaster: HashMap<String, Vec<f64>>,
    /// ns per frame of each floor test, per repetition.
    pub floor: Vec<(FloorTest, Vec<f64>)>,
    pub notes: Vec<String>,
    pub header: Vec<String>,
}

impl Results {
    pub fn push(&mut self, test: &str, sw: &str, rep: u32, s: Option<Sample>) {
        let v = self
            .runs
            .entry((test.to_string(), sw.to_string()))
            .or_default();
        if v.len() <= rep as usize {
            v.resize(rep as usize + 1, None);
        }
        v[rep as usize] = s;
    }

    /// Per-repetition values of one key.
    pub fn values(&self, test: &str, sw: &str, key: &str) -> Vec<Option<f64>> {
        self.runs
            .get(&(test.to_string(), sw.to_string()))
            .map(|v| {
                v.iter()
                    .map(|s| s.as_ref().and_then(|s| s.get(key).copied()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn present(&self, test: &str, sw: &str, key: &str) -> Vec<f64> {
        self.values(test, sw, key).into_iter().flatten().collect()
    }

    pub fn median(&self, test: &str, sw: &str, key: &str) -> Option<f64> {
        stats::median(&self.present(test, sw, key))
    }

    pub fn ratio(&self, test: &str, sw: &str, base: &str, key: &str) -> Option<Ratio> {
        stats::ratio(&self.values(test, sw, key), &self.values(test, base, key))
    }
}

/// Derived metrics: the clients' CPU per delivered frame, and how busy the machine's CPUs were
/// (switch and clients together, over the sending time). When `cpu_busy` is near 100 %, the
/// delivered rate is set by the total CPU per frame, clients included.
pub fn add_cpu_shares(mut s: Sample) -> Sample {
    let get = |s: &Sample, k: &str| s.get(k).copied();
    let (clients, rx) = (get(&s, "clients_cpu_s"), get(&s, "rx"));
    let (sw, secs) = (get(&s, "sw_cpu_s"), get(&s, "secs"));
    if let (Some(c), Some(rx)) = (clients, rx) {
        if rx > 0.0 {
            s.insert("clients_cpu_ns_per_rx".into(), c / rx * 1e9);
        }
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    if let (Some(c), Some(sw), Some(secs)) = (clients, sw, secs) {
        if secs > 0.0 {
            s.insert("cpu_busy".into(), (c + sw) / (cpus * secs));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pairs: &[(&str, f64)]) -> Option<Sample> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn cpu_shares_are_derived_from_the_load_fields() {
        let s = sample(&[
            ("clients_cpu_s", 1.5),
            ("sw_cpu_s", 0.5),
            ("rx", 1_000_000.0),
            ("secs", 2.0),
        ])
        .unwrap();
        let s = add_cpu_shares(s);
        assert_eq!(s["clients_cpu_ns_per_rx"], 1500.0);
        let cpus = std::thread::available_parallelism().unwrap().get() as f64;
        assert_eq!(s["cpu_busy"], 2.0 / (cpus * 2.0));
        // Without the fields nothing is made up.
        let s = add_cpu_shares(sample(&[("rx", 0.0)]).unwrap());
        assert!(!s.contains_key("clients_cpu_ns_per_rx") && !s.contains_key("cpu_busy"));
    }
}
