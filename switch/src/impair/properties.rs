//! Properties over generated settings and traffic: the text round trip, a
//! parser that never panics, and the queue's promises (conservation, bounds,
//! earliest departure, order, rate spacing) for any settings and arrivals.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn time_word() -> impl Strategy<Value = String> {
    (
        0u64..=3600,
        prop::sample::select(vec!["s", "ms", "us", "", "ns", "msec", "Secs"]),
    )
        .prop_map(|(v, u)| format!("{v}{u}"))
}

fn percent_word() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..=100).prop_map(|v| format!("{v}%")),
        (0u32..=1000).prop_map(|v| format!("{}.{}", v / 10, v % 10)),
    ]
}

fn rate_word() -> impl Strategy<Value = String> {
    let units = vec![
        "bit", "kbit", "Mbit", "gbit", "kibit", "bps", "kbps", "mbps", "",
    ];
    (1u64..10_000, prop::sample::select(units)).prop_map(|(v, u)| format!("{v}{u}"))
}

/// A valid line: some of the words, each once, shuffled, with optional values.
fn valid_line() -> impl Strategy<Value = String> {
    let delay = (
        time_word(),
        prop::option::of((time_word(), prop::option::of(percent_word()))),
    )
        .prop_map(|(t, j)| match j {
            None => format!("delay {t}"),
            Some((j, None)) => format!("delay {t} {j}"),
            Some((j, Some(c))) => format!("delay {t} {j} {c}"),
        });
    let chance = |w: &'static str| {
        (percent_word(), prop::option::of(percent_word())).prop_map(move |(p, c)| match c {
            None => format!("{w} {p}"),
            Some(c) => format!("{w} {p} {c}"),
        })
    };
    let rate = (rate_word(), prop::option::of(-100i32..100)).prop_map(|(r, o)| match o {
        None => format!("rate {r}"),
        Some(o) => format!("rate {r} {o}"),
    });
    (
        // A delay of 1ms always precedes a reorder, so that the line is valid.
        prop::option::of(delay),
        prop::option::of(chance("loss")),
        prop::option::of(chance("duplicate")),
        prop::option::of(chance("corrupt")),
        prop::option::of(chance("reorder")),
        prop::option::of(rate),
        prop::option::of((1usize..=MAX_LIMIT).prop_map(|l| format!("limit {l}"))),
        prop::option::of(any::<u64>().prop_map(|s| format!("seed {s}"))),
    )
        .prop_map(|(d, l, du, c, r, ra, li, s)| {
            let d = d.or_else(|| r.as_ref().map(|_| "delay 1ms".to_string()));
            [d, l, du, c, r, ra, li, s]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
        .prop_map(|words| {
            if words.is_empty() {
                "off".to_string()
            } else {
                words.join(" ")
            }
        })
}

fn any_word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "delay",
            "loss",
            "duplicate",
            "corrupt",
            "reorder",
            "rate",
            "limit",
            "seed",
            "off",
            "-",
            ".",
            "%",
            "-14",
            "1e3",
            "0",
            "NaN",
            "inf",
        ])
        .prop_map(str::to_string),
        time_word(),
        percent_word(),
        rate_word(),
        "\\PC{0,8}",
    ]
}

proptest! {
    #[test]
    fn valid_lines_parse_and_print_back(line in valid_line()) {
        let s: Settings = line.parse().map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
        let text = s.to_string();
        let again: Settings = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&again, &s, "{} -> {}", line, text);
        prop_assert_eq!(again.to_string(), text);
    }

    #[test]
    fn any_words_parse_or_fail_cleanly(words in prop::collection::vec(any_word(), 0..8)) {
        let line = words.join(" ");
        match line.parse::<Settings>() {
            Ok(s) => prop_assert_eq!(s.to_string().parse::<Settings>(), Ok(s)),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

/// Arrivals: after `gap_us`, `count` frames of `len` bytes.
#[derive(Debug, Clone)]
struct Burst {
    gap_us: u64,
    count: usize,
    len: usize,
}

fn bursts() -> impl Strategy<Value = Vec<Burst>> {
    prop::collection::vec(
        (0u64..20_000, 1usize..8, 14usize..1500).prop_map(|(gap_us, count, len)| Burst {
            gap_us,
            count,
            len,
        }),
        1..60,
    )
}

fn queue_settings() -> impl Strategy<Value = String> {
    (
        0u64..30,
        0u64..30,
        0u32..=100,
        0u32..=100,
        0u32..=100,
        0u32..=60,
        0u32..=60,
        prop::option::of(prop::sample::select(vec!["100kbit", "1mbit", "10mbit"])),
        1usize..300,
    )
        .prop_map(|(d, j, l, du, c, r, corr, rate, limit)| {
            let mut w = vec![format!("limit {limit}")];
            if d + j > 0 {
                w.push(format!("delay {d}ms {j}ms {corr}%"));
                w.push(format!("reorder {r}%"));
            }
            w.push(format!("loss {l}% {corr}%"));
            w.push(format!("duplicate {du}%"));
            w.push(format!("corrupt {c}%"));
            if let Some(rate) = rate {
                w.push(format!("rate {rate}"));
            }
            w.join(" ")
        })
}

/// A frame whose number is in the source address, which corruption never touches.
fn numbered(n: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0xa5; len];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..8].copy_from_slice(&[0x02, 0x00]);
    f[8..12].copy_from_slice(&n.to_be_bytes());
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

fn number(f: &[u8]) -> u32 {
    u32::from_be_bytes(f[8..12].try_into().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_queue_keeps_its_promises(line in queue_settings(), arrivals in bursts(), seed in any::<u64>()) {
        let s: Settings = line.parse().unwrap();
        let mut q: ImpairQueue<Vec<u8>> = ImpairQueue::new(s.clone(), seed);
        let t0 = Instant::now();
        let min_delay = s.delay().map_or(Duration::ZERO, |d| d.time.saturating_sub(d.jitter));
        let jitter = s.delay().is_some_and(|d| !d.jitter.is_zero());
        let bps = s.rate().map_or(0, |r| r.bits_per_sec);
        let tx = |len: usize| Duration::from_nanos((len as u64 * 8 * 1_000_000_000).checked_div(bps).unwrap_or(0));

        let mut now = t0;
        let mut pushed: HashMap<u32, (Instant, usize)> = HashMap::new();
        // (number, time it left, length)
        let mut left: Vec<(u32, Instant, usize)> = Vec::new();
        let mut out = Vec::new();
        let mut next = 0u32;
        // Pops at every deadline up to `until`, so each frame leaves exactly
        // when due (reordered ones: at the time they were pushed).
        let mut walk = |q: &mut ImpairQueue<Vec<u8>>, until: Instant, last: &mut Instant, left: &mut Vec<(u32, Instant, usize)>| {
            while let Some(d) = q.next_deadline().filter(|&d| d <= until) {
                let at = d.max(*last);
                *last = at;
                out.clear();
                q.pop_due(at, &mut out);
                left.extend(out.iter().map(|f| (number(f), at, f.len())));
            }
        };
        let mut last_pop = t0;
        for b in &arrivals {
            let until = now + Duration::from_micros(b.gap_us);
            walk(&mut q, until, &mut last_pop, &mut left);
            now = until;
            for _ in 0..b.count {
                pushed.insert(next, (now, b.len));
                q.push(numbered(next, b.len), now);
                next += 1;
                prop_assert!(q.len() <= s.limit());
            }
            walk(&mut q, now, &mut last_pop, &mut left);
            let c = q.counters();
            prop_assert_eq!(c.pushed + c.duplicated, c.queued + c.lost + c.overflow);
            prop_assert_eq!(c.queued, c.sent + q.len() as u64);
        }
        walk(&mut q, now + Duration::from_secs(3600), &mut last_pop, &mut left);
        prop_assert!(q.is_empty());
        let c = *q.counters();
        prop_assert_eq!(c.sent as usize, left.len());

        let mut seen: HashMap<u32, usize> = HashMap::new();
        let mut early = 0u64;
        let mut in_order: Vec<(u32, Instant, usize)> = Vec::new();
        for &(n, at, len) in &left {
            let &(t, l) = pushed.get(&n).expect("only pushed frames leave");
            prop_assert_eq!(len, l, "the length is kept");
            prop_assert!(at >= t);
            *seen.entry(n).or_default() += 1;
            let earliest = t + min_delay + tx(len);
            if at < earliest {
                // Only a reordered frame skips the delay, and it leaves at once.
                prop_assert_eq!(at, t);
                early += 1;
            } else {
                in_order.push((n, at, len));
            }
        }
        prop_assert!(seen.values().all(|&k| k <= 2));
        if s.duplicate().is_none() {
            prop_assert!(seen.values().all(|&k| k == 1));
        }
        if min_delay + tx(14) > Duration::ZERO {
            prop_assert_eq!(early, c.reordered);
        }
        if !jitter || bps > 0 {
            // No overtaking among delayed frames (a duplicate follows its original).
            prop_assert!(in_order.windows(2).all(|w| w[0].0 <= w[1].0));
        }
        if bps > 0 {
            // The link carries one frame at a time.
            for w in in_order.windows(2) {
                prop_assert!(w[1].1 - w[0].1 >= tx(w[1].2), "{:?}", w);
            }
        }
    }

    #[test]
    fn passthrough_changes_nothing(arrivals in bursts()) {
        let mut q: ImpairQueue<Vec<u8>> = ImpairQueue::new("limit 100000".parse().unwrap(), 0);
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut n = 0;
        for (i, b) in arrivals.iter().enumerate() {
            let now = t0 + Duration::from_millis(i as u64);
            let frames: Vec<Vec<u8>> = (0..b.count).map(|k| numbered(n + k as u32, b.len)).collect();
            n += b.count as u32;
            for f in &frames {
                q.push(f.clone(), now);
            }
            out.clear();
            q.pop_due(now, &mut out);
            prop_assert_eq!(&out, &frames);
        }
    }
}
