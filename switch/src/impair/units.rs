//! The value syntax of `tc` (iproute2 6.1, as shipped with Debian 12), each
//! with its canonical rendering: parse then format gives back the same value.
//!
//! | kind    | accepted                                                              | bare number |
//! |---------|-----------------------------------------------------------------------|-------------|
//! | time    | `s` `sec` `secs`, `ms` `msec` `msecs`, `us` `usec` `usecs`, `ns` `nsec` `nsecs` | µs |
//! | percent | `5%`, `0.1%`                                                          | percent     |
//! | rate    | `bit` `kbit` `mbit` `gbit` `tbit` (powers of 1000), `kibit` `mibit` `gibit` `tibit` (of 1024); the same with `bps` for bytes per second: `bps` `kbps` `mbps` ... `kibps` ... | bit/s |
//!
//! Units are case-insensitive as in tc, so `10Mbit` is `10mbit` and `1MBps`
//! is `1mbps`, i.e. 8 Mbit/s. tc 6.1 itself rejects `ns`; newer iproute2
//! accepts it, so it is taken here too. Numbers are plain decimals (digits
//! and one point).

use std::fmt;
use std::time::Duration;

/// Longest delay or jitter: an hour is far beyond any lab, and the bound keeps
/// every deadline computable.
pub const MAX_TIME: Duration = Duration::from_secs(3600);

/// Splits `"12.5ms"` into `12.5` and `"ms"`; `None` if there is no number in front.
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    if !num.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    v.is_finite().then_some((v, unit))
}

/// Whether a word is a value rather than the next keyword (tc's `NEXT_IS_NUMBER`).
pub fn looks_numeric(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    s.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

pub const TIME_SYNTAX: &str =
    "a time is a number with a unit s, ms, us or ns (no unit means microseconds), such as 50ms";

pub fn parse_time(s: &str) -> Result<Duration, &'static str> {
    let (v, unit) = number_and_unit(s).ok_or(TIME_SYNTAX)?;
    let ns_per = match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" => 1e9,
        "ms" | "msec" | "msecs" => 1e6,
        "" | "us" | "usec" | "usecs" => 1e3,
        "ns" | "nsec" | "nsecs" => 1.0,
        _ => return Err(TIME_SYNTAX),
    };
    let ns = (v * ns_per).round();
    if ns > MAX_TIME.as_nanos() as f64 {
        return Err("a time must be at most 3600s");
    }
    Ok(Duration::from_nanos(ns as u64))
}

/// A time in the largest unit that shows it exactly: `50ms`, `1500us`, `2s`.
pub struct Time(pub Duration);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        for (per, unit) in [(1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")] {
            if ns.is_multiple_of(per) {
                return write!(f, "{}{unit}", ns / per);
            }
        }
        write!(f, "{ns}ns")
    }
}

/// A percentage between 0 and 100, kept as given so that it prints back as given.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Percent(f64);

pub const PERCENT_SYNTAX: &str = "a percentage is a number such as 5% or 0.1%";

impl Percent {
    pub const ZERO: Percent = Percent(0.0);

    pub fn new(v: f64) -> Option<Percent> {
        (v.is_finite() && (0.0..=100.0).contains(&v)).then_some(Percent(v))
    }

    pub fn parse(s: &str) -> Result<Percent, &'static str> {
        let (v, unit) = number_and_unit(s).ok_or(PERCENT_SYNTAX)?;
        if !(unit.is_empty() || unit == "%") {
            return Err(PERCENT_SYNTAX);
        }
        Percent::new(v).ok_or("a percentage must be between 0 and 100")
    }

    pub fn value(self) -> f64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rust prints the shortest decimal that reads back as the same f64.
        write!(f, "{}%", self.0)
    }
}

pub const RATE_SYNTAX: &str = "a rate is a number with a unit such as 100kbit, 10mbit, 1gbit \
     (bits per second) or 1mbps (bytes per second); no unit means bit/s";

/// Fastest rate accepted: 10 Tbit/s keeps the per-frame arithmetic far from overflowing.
pub const MAX_RATE: u64 = 10_000_000_000_000;

/// Parses a rate into bits per second.
pub fn parse_rate(s: &str) -> Result<u64, &'static str> {
    let (v, unit) = number_and_unit(s).ok_or(RATE_SYNTAX)?;
    let unit = unit.to_ascii_lowercase();
    let (prefix, bits) = if let Some(p) = unit.strip_suffix("bit") {
        (p, 1.0)
    } else if let Some(p) = unit.strip_suffix("bps") {
        (p, 8.0)
    } else if unit.is_empty() {
        ("", 1.0)
    } else {
        return Err(RATE_SYNTAX);
    };
    let scale: f64 = match prefix {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024.0 * 1024.0,
        "gi" => 1024.0 * 1024.0 * 1024.0,
        "ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(RATE_SYNTAX),
    };
    let bps = (v * scale * bits).round();
    if bps < 1.0 {
        return Err("a rate must be at least 1bit");
    }
    if bps > MAX_RATE as f64 {
        return Err("a rate must be at most 10tbit");
    }
    Ok(bps as u64)
}

/// A rate in bits per second, in the largest power-of-1000 unit that shows it
/// exactly: `1mbit`, `1500kbit`, `8192bit`.
pub struct Rate(pub u64);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        for (per, unit) in [
            (1_000_000_000_000, "tbit"),
            (1_000_000_000, "gbit"),
            (1_000_000, "mbit"),
            (1_000, "kbit"),
        ] {
            if b.is_multiple_of(per) {
                return write!(f, "{}{unit}", b / per);
            }
        }
        write!(f, "{b}bit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn times_follow_tc() {
        assert_eq!(parse_time("50ms"), Ok(ms(50)));
        assert_eq!(parse_time("1s"), Ok(ms(1000)));
        assert_eq!(parse_time("1.5SEC"), Ok(ms(1500)));
        assert_eq!(parse_time("200us"), Ok(Duration::from_micros(200)));
        assert_eq!(parse_time("200usecs"), Ok(Duration::from_micros(200)));
        assert_eq!(parse_time("100"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_time("0.5ms"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_time("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_time("3600s"), Ok(MAX_TIME));
        for bad in [
            "", "ms", "5m", "5 ms", "-5ms", "1e3ms", "1.2.3ms", "3601s", ".",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn times_print_in_the_largest_exact_unit() {
        for (d, s) in [
            (ms(50), "50ms"),
            (ms(2000), "2s"),
            (ms(1500), "1500ms"),
            (Duration::from_micros(250), "250us"),
            (Duration::from_nanos(1001), "1001ns"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(Time(d).to_string(), s);
            assert_eq!(parse_time(s), Ok(d));
        }
    }

    #[test]
    fn percents() {
        assert_eq!(Percent::parse("5%").unwrap().value(), 5.0);
        assert_eq!(Percent::parse("5").unwrap().value(), 5.0);
        assert_eq!(Percent::parse("0.1%").unwrap().to_string(), "0.1%");
        assert_eq!(Percent::parse("100%").unwrap().to_string(), "100%");
        assert_eq!(
            Percent::parse("150%"),
            Err("a percentage must be between 0 and 100")
        );
        for bad in ["", "%", "5%%", "five", "5 %", "-1%", "5ms"] {
            assert!(Percent::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn rates_follow_tc_units() {
        assert_eq!(parse_rate("1mbit"), Ok(1_000_000));
        assert_eq!(parse_rate("10Mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("100kbit"), Ok(100_000));
        assert_eq!(parse_rate("1gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("1mbps"), Ok(8_000_000), "bps means bytes");
        assert_eq!(parse_rate("1MBps"), Ok(8_000_000));
        assert_eq!(parse_rate("1kibit"), Ok(1024));
        assert_eq!(parse_rate("1Mibit"), Ok(1 << 20));
        assert_eq!(parse_rate("1kibps"), Ok(8192));
        assert_eq!(parse_rate("1000"), Ok(1000), "a bare number is bit/s");
        assert_eq!(parse_rate("1.5kbit"), Ok(1500));
        assert_eq!(parse_rate("10tbit"), Ok(MAX_RATE));
        for bad in [
            "", "mbit", "1mb", "1xbit", "0bit", "0.4bit", "11tbit", "1 mbit",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn rates_print_in_the_largest_exact_unit() {
        for (b, s) in [
            (1_000_000, "1mbit"),
            (8_000_000, "8mbit"),
            (1_500_000, "1500kbit"),
            (8192, "8192bit"),
            (2_000_000_000_000, "2tbit"),
        ] {
            assert_eq!(Rate(b).to_string(), s);
            assert_eq!(parse_rate(s), Ok(b));
        }
    }

    #[test]
    fn numeric_lookahead() {
        assert!(looks_numeric("10ms"));
        assert!(looks_numeric(".5"));
        assert!(looks_numeric("-14"));
        assert!(!looks_numeric("loss"));
        assert!(!looks_numeric("-"));
        assert!(!looks_numeric(""));
    }
}
