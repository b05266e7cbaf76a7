//! What to do to the frames of one port and direction, in `tc netem`'s words:
//!
//! ```text
//! delay TIME [JITTER [CORRELATION]]  loss PERCENT [CORRELATION]
//! duplicate PERCENT [CORRELATION]    corrupt PERCENT [CORRELATION]
//! reorder PERCENT [CORRELATION]      rate RATE [PACKETOVERHEAD]
//! limit FRAMES                       seed NUMBER
//! off
//! ```
//!
//! Any subset, in any order, each word at most once; units as in
//! [`units`]. A zero value (`loss 0%`, `delay 0`) means "not
//! set", so a full line can be repeated with one value zeroed. `reorder`
//! needs a delay, as in tc 6.1, because a reordered frame is one that skips
//! the delay. netem's other words (`distribution`, `gap`, `slot`, `ecn`, the
//! `state`/`gemodel` loss models, rate cell sizes) are not supported: jitter
//! is uniform, as netem's without a distribution table.
//!
//! [`Settings`] prints back in canonical form (the order above, the largest
//! exact unit, `limit` only when not 1000), which parses to the same settings.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{json, Value};

use super::units::{self, looks_numeric, Percent, Time};

/// netem's default queue limit, in frames.
pub const DEFAULT_LIMIT: usize = 1000;
/// Largest queue limit: 100 000 frames of 1.5 kB hold 150 MB, the most a
/// lab switch should keep for one port and direction.
pub const MAX_LIMIT: usize = 100_000;

/// A delay with its uniform jitter: each frame waits `time ± jitter`
/// (never less than zero).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Delay {
    pub time: Duration,
    pub jitter: Duration,
    /// How much each frame's jitter repeats the previous frame's.
    pub correlation: Percent,
}

/// A probability of something happening to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Chance {
    pub percent: Percent,
    /// How much each frame's fate repeats the previous frame's.
    pub correlation: Percent,
}

/// A link speed: each frame occupies the link for `(len + overhead) * 8 / bits_per_sec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub bits_per_sec: u64,
    /// Bytes added to each frame's length (may be negative), netem's PACKETOVERHEAD.
    pub overhead: i32,
}

/// The impairments of one port and direction. `Settings::default()` is `off`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    delay: Option<Delay>,
    loss: Option<Chance>,
    duplicate: Option<Chance>,
    corrupt: Option<Chance>,
    reorder: Option<Chance>,
    rate: Option<Rate>,
    limit: usize,
    seed: Option<u64>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            delay: None,
            loss: None,
            duplicate: None,
            corrupt: None,
            reorder: None,
            rate: None,
            limit: DEFAULT_LIMIT,
            seed: None,
        }
    }
}

/// Why a line of impairment words was refused. The messages name the word
/// and value at fault and what is expected instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("no impairment given; expected off or any of: {WORDS}")]
    Empty,
    #[error("{0}: unknown impairment; expected off or any of: {WORDS}")]
    UnknownWord(String),
    #[error("{0} is given twice")]
    Repeated(&'static str),
    #[error("{word} needs a value: {expected}")]
    MissingValue {
        word: &'static str,
        expected: &'static str,
    },
    #[error("{word} {value}: {problem}")]
    BadValue {
        word: &'static str,
        value: String,
        problem: &'static str,
    },
    #[error("off cannot be combined with other words")]
    OffWithOthers,
    #[error(
        "reorder {0}: needs a delay (a reordered frame is sent at once, the others after the delay)"
    )]
    ReorderWithoutDelay(String),
}

const WORDS: &str = "delay TIME [JITTER [CORRELATION]], loss PERCENT, duplicate PERCENT, \
     corrupt PERCENT, reorder PERCENT, rate RATE [OVERHEAD], limit FRAMES, seed NUMBER";

fn bad(word: &'static str, value: &str, problem: &'static str) -> ParseError {
    ParseError::BadValue {
        word,
        value: value.to_string(),
        problem,
    }
}

/// The words, one at a time, with tc's look-ahead for optional numbers.
struct Words<'a, I: Iterator<Item = &'a str>> {
    it: std::iter::Peekable<I>,
}

impl<'a, I: Iterator<Item = &'a str>> Words<'a, I> {
    fn value(&mut self, word: &'static str, expected: &'static str) -> Result<&'a str, ParseError> {
        self.it
            .next()
            .ok_or(ParseError::MissingValue { word, expected })
    }

    /// The next word if it is a number (an optional value), else `None`.
    fn optional(&mut self) -> Option<&'a str> {
        self.it.next_if(|w| looks_numeric(w))
    }

    /// An optional correlation after `before` (the values already read, shown in errors).
    fn correlation(&mut self, word: &'static str, before: &str) -> Result<Percent, ParseError> {
        match self.optional() {
            Some(v) => Percent::parse(v).map_err(|p| bad(word, &format!("{before} {v}"), p)),
            None => Ok(Percent::ZERO),
        }
    }

    fn chance(&mut self, word: &'static str) -> Result<Option<Chance>, ParseError> {
        let v = self.value(word, units::PERCENT_SYNTAX)?;
        let percent = Percent::parse(v).map_err(|p| bad(word, v, p))?;
        let correlation = self.correlation(word, v)?;
        Ok((!percent.is_zero()).then_some(Chance {
            percent,
            correlation,
        }))
    }

    fn delay(&mut self) -> Result<Option<Delay>, ParseError> {
        let v = self.value("delay", units::TIME_SYNTAX)?;
        let time = units::parse_time(v).map_err(|p| bad("delay", v, p))?;
        let (jitter, before) = match self.optional() {
            Some(j) => {
                let before = format!("{v} {j}");
                let jitter = units::parse_time(j).map_err(|p| bad("delay", &before, p))?;
                (jitter, before)
            }
            None => (Duration::ZERO, v.to_string()),
        };
        let correlation = self.correlation("delay", &before)?;
        Ok((!(time.is_zero() && jitter.is_zero())).then_some(Delay {
            time,
            jitter,
            correlation,
        }))
    }

    fn rate(&mut self) -> Result<Rate, ParseError> {
        let v = self.value("rate", units::RATE_SYNTAX)?;
        let bits_per_sec = units::parse_rate(v).map_err(|p| bad("rate", v, p))?;
        let overhead = match self.optional() {
            Some(o) => o
                .parse::<i32>()
                .ok()
                .filter(|o| o.abs() <= 65535)
                .ok_or_else(|| {
                    bad(
                        "rate",
                        &format!("{v} {o}"),
                        "the overhead is a whole number of bytes between -65535 and 65535",
                    )
                })?,
            None => 0,
        };
        Ok(Rate {
            bits_per_sec,
            overhead,
        })
    }

    fn limit(&mut self) -> Result<usize, ParseError> {
        const WHAT: &str = "the limit is a whole number of frames between 1 and 100000";
        let v = self.value("limit", WHAT)?;
        v.parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad("limit", v, WHAT))
    }

    fn seed(&mut self) -> Result<u64, ParseError> {
        const WHAT: &str = "the seed is a whole number between 0 and 18446744073709551615";
        let v = self.value("seed", WHAT)?;
        v.parse::<u64>().map_err(|_| bad("seed", v, WHAT))
    }
}

/// Stores `value` in `slot`, refusing a word given twice.
fn once<T>(slot: &mut Option<T>, word: &'static str, value: T) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::Repeated(word));
    }
    *slot = Some(value);
    Ok(())
}

impl Settings {
    /// Parses the words after `port/impair N DIR`.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Settings, ParseError> {
        let mut words = Words {
            it: words.into_iter().peekable(),
        };
        let Some(&first) = words.it.peek() else {
            return Err(ParseError::Empty);
        };
        if first == "off" {
            words.it.next();
            return match words.it.next() {
                None => Ok(Settings::default()),
                Some(_) => Err(ParseError::OffWithOthers),
            };
        }
        // Each slot is `Some` once its word was seen, even when the value is
        // zero (`Some(None)`), so that a repetition is caught either way.
        let mut delay = None;
        let mut loss = None;
        let mut duplicate = None;
        let mut corrupt = None;
        let mut reorder = None;
        let mut rate = None;
        let mut limit = None;
        let mut seed = None;
        while let Some(word) = words.it.next() {
            match word {
                "delay" => once(&mut delay, "delay", words.delay()?)?,
                "loss" => once(&mut loss, "loss", words.chance("loss")?)?,
                "duplicate" => once(&mut duplicate, "duplicate", words.chance("duplicate")?)?,
                "corrupt" => once(&mut corrupt, "corrupt", words.chance("corrupt")?)?,
                "reorder" => once(&mut reorder, "reorder", words.chance("reorder")?)?,
                "rate" => once(&mut rate, "rate", words.rate()?)?,
                "limit" => once(&mut limit, "limit", words.limit()?)?,
                "seed" => once(&mut seed, "seed", words.seed()?)?,
                "off" => return Err(ParseError::OffWithOthers),
                other => return Err(ParseError::UnknownWord(other.to_string())),
            }
        }
        let s = Settings {
            delay: delay.flatten(),
            loss: loss.flatten(),
            duplicate: duplicate.flatten(),
            corrupt: corrupt.flatten(),
            reorder: reorder.flatten(),
            rate,
            limit: limit.unwrap_or(DEFAULT_LIMIT),
            seed,
        };
        if let (Some(r), None) = (s.reorder, s.delay) {
            return Err(ParseError::ReorderWithoutDelay(r.percent.to_string()));
        }
        Ok(s)
    }

    /// True when no frame is changed, dropped or held: the caller can bypass
    /// the queue altogether (`limit` and `seed` alone do nothing).
    pub fn is_passthrough(&self) -> bool {
        self.delay.is_none()
            && self.loss.is_none()
            && self.duplicate.is_none()
            && self.corrupt.is_none()
            && self.reorder.is_none()
            && self.rate.is_none()
    }

    pub fn delay(&self) -> Option<Delay> {
        self.delay
    }
    pub fn loss(&self) -> Option<Chance> {
        self.loss
    }
    pub fn duplicate(&self) -> Option<Chance> {
        self.duplicate
    }
    pub fn corrupt(&self) -> Option<Chance> {
        self.corrupt
    }
    pub fn reorder(&self) -> Option<Chance> {
        self.reorder
    }
    pub fn rate(&self) -> Option<Rate> {
        self.rate
    }
    /// Most frames held at once; more are dropped and counted.
    pub fn limit(&self) -> usize {
        self.limit
    }
    /// The seed given with `seed N`, which replaces the one the queue was made with.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// The settings for `json` output: numbers in fixed units, `null` for what
    /// is not set, and the canonical text.
    pub fn to_json(&self) -> Value {
        fn chance(c: Option<Chance>) -> Value {
            c.map_or(Value::Null, |c| {
                json!({ "percent": c.percent.value(), "correlation_percent": c.correlation.value() })
            })
        }
        json!({
            "text": self.to_string(),
            "delay": self.delay.map_or(Value::Null, |d| json!({
                "ns": d.time.as_nanos() as u64,
                "jitter_ns": d.jitter.as_nanos() as u64,
                "correlation_percent": d.correlation.value(),
            })),
            "loss": chance(self.loss),
            "duplicate": chance(self.duplicate),
            "corrupt": chance(self.corrupt),
            "reorder": chance(self.reorder),
            "rate": self.rate.map_or(Value::Null, |r| json!({
                "bits_per_sec": r.bits_per_sec,
                "overhead_bytes": r.overhead,
            })),
            "limit": self.limit,
            "seed": self.seed,
        })
    }
}

impl FromStr for Settings {
    type Err = ParseError;

    /// Parses whitespace-separated words, as typed on the console.
    fn from_str(s: &str) -> Result<Settings, ParseError> {
        Settings::parse(s.split_whitespace())
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = Vec::new();
        let mut with_corr = |head: String, corr: Percent| {
            if corr.is_zero() {
                words.push(head);
            } else {
                words.push(format!("{head} {corr}"));
            }
        };
        if let Some(d) = self.delay {
            if d.jitter.is_zero() && d.correlation.is_zero() {
                with_corr(format!("delay {}", Time(d.time)), Percent::ZERO);
            } else {
                with_corr(
                    format!("delay {} {}", Time(d.time), Time(d.jitter)),
                    d.correlation,
                );
            }
        }
        for (word, c) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("corrupt", self.corrupt),
            ("reorder", self.reorder),
        ] {
            if let Some(c) = c {
                with_corr(format!("{word} {}", c.percent), c.correlation);
            }
        }
        if let Some(r) = self.rate {
            if r.overhead == 0 {
                words.push(format!("rate {}", units::Rate(r.bits_per_sec)));
            } else {
                words.push(format!(
                    "rate {} {}",
                    units::Rate(r.bits_per_sec),
                    r.overhead
                ));
            }
        }
        if self.limit != DEFAULT_LIMIT {
            words.push(format!("limit {}", self.limit));
        }
        if let Some(seed) = self.seed {
            words.push(format!("seed {seed}"));
        }
        if words.is_empty() {
            f.write_str("off")
        } else {
            f.write_str(&words.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Settings, ParseError> {
        s.parse()
    }

    fn err(s: &str) -> String {
        parse(s).expect_err(s).to_string()
    }

    #[test]
    fn the_example_of_the_documentation() {
        let s = parse(
            "delay 50ms 10ms loss 5% duplicate 1% corrupt 0.1% reorder 2% rate 1mbit limit 500",
        )
        .unwrap();
        let d = s.delay().unwrap();
        assert_eq!(d.time, Duration::from_millis(50));
        assert_eq!(d.jitter, Duration::from_millis(10));
        assert!(d.correlation.is_zero());
        assert_eq!(s.loss().unwrap().percent.value(), 5.0);
        assert_eq!(s.duplicate().unwrap().percent.value(), 1.0);
        assert_eq!(s.corrupt().unwrap().percent.value(), 0.1);
        assert_eq!(s.reorder().unwrap().percent.value(), 2.0);
        assert_eq!(
            s.rate(),
            Some(Rate {
                bits_per_sec: 1_000_000,
                overhead: 0
            })
        );
        assert_eq!(s.limit(), 500);
        assert_eq!(s.seed(), None);
        assert!(!s.is_passthrough());
        assert_eq!(
            s.to_string(),
            "delay 50ms 10ms loss 5% duplicate 1% corrupt 0.1% reorder 2% rate 1mbit limit 500"
        );
    }

    #[test]
    fn any_order_prints_in_canonical_order() {
        let s = parse("rate 10Mbit 24 limit 1000 loss 0.5 25% delay 1.5s 200us 10%").unwrap();
        assert_eq!(
            s.to_string(),
            "delay 1500ms 200us 10% loss 0.5% 25% rate 10mbit 24"
        );
        assert_eq!(parse(&s.to_string()).unwrap(), s);
        assert_eq!(parse("rate 1mbps").unwrap().to_string(), "rate 8mbit");
        assert_eq!(parse("delay 100").unwrap().to_string(), "delay 100us");
        assert_eq!(
            parse("seed 42 loss 1%").unwrap().to_string(),
            "loss 1% seed 42"
        );
    }

    #[test]
    fn off_and_zeros() {
        let off = parse("off").unwrap();
        assert_eq!(off, Settings::default());
        assert!(off.is_passthrough());
        assert_eq!(off.to_string(), "off");
        assert_eq!(parse("loss 0% delay 0").unwrap(), off);
        let limit_only = parse("limit 10").unwrap();
        assert!(limit_only.is_passthrough());
        assert_eq!(limit_only.to_string(), "limit 10");
        assert_eq!(parse("limit 1000").unwrap().to_string(), "off");
        // A jitter alone is a delay of 0 ± jitter.
        let j = parse("delay 0 5ms").unwrap();
        assert_eq!(j.to_string(), "delay 0s 5ms");
        assert_eq!(parse(&j.to_string()).unwrap(), j);
    }

    #[test]
    fn errors_name_the_word_and_what_is_expected() {
        assert_eq!(
            err("loss 150%"),
            "loss 150%: a percentage must be between 0 and 100"
        );
        assert_eq!(
            err("delay 50xs"),
            "delay 50xs: a time is a number with a unit s, ms, us or ns \
             (no unit means microseconds), such as 50ms"
        );
        assert_eq!(
            err("delay 50ms 1h"),
            "delay 50ms 1h: a time is a number with a unit s, ms, us or ns \
             (no unit means microseconds), such as 50ms"
        );
        assert_eq!(
            err("delay 3601s"),
            "delay 3601s: a time must be at most 3600s"
        );
        assert!(err("rate fast").starts_with("rate fast: a rate is a number with a unit"));
        assert_eq!(err("rate 0"), "rate 0: a rate must be at least 1bit");
        assert_eq!(
            err("loss"),
            "loss needs a value: a percentage is a number such as 5% or 0.1%"
        );
        assert_eq!(err("loss 5% loss 3%"), "loss is given twice");
        assert_eq!(err("loss 0% loss 3%"), "loss is given twice");
        assert_eq!(
            err("delay 1ms jitter 2ms").split(':').next(),
            Some("jitter")
        );
        assert!(
            err("jitter 2ms").contains("unknown impairment; expected off or any of: delay TIME")
        );
        assert_eq!(err(""), err("   "));
        assert!(err("").starts_with("no impairment given"));
        assert_eq!(
            err("off loss 5%"),
            "off cannot be combined with other words"
        );
        assert_eq!(
            err("loss 5% off"),
            "off cannot be combined with other words"
        );
        assert_eq!(
            err("reorder 2%"),
            "reorder 2%: needs a delay (a reordered frame is sent at once, the others after the delay)"
        );
        assert_eq!(err("delay 0 reorder 2%"), err("reorder 2%"));
        assert_eq!(
            err("limit 0"),
            "limit 0: the limit is a whole number of frames between 1 and 100000"
        );
        assert!(err("limit 1k").starts_with("limit 1k: the limit is a whole number"));
        assert!(err("rate 1mbit 1.5").starts_with("rate 1mbit 1.5: the overhead is a whole number"));
        assert!(err("seed -1").starts_with("seed -1: the seed is a whole number"));
        assert_eq!(
            err("delay 10ms 1ms 200%"),
            "delay 10ms 1ms 200%: a percentage must be between 0 and 100"
        );
        assert_eq!(
            err("loss 5% 101"),
            "loss 5% 101: a percentage must be between 0 and 100"
        );
    }

    #[test]
    fn optional_numbers_stop_at_the_next_word() {
        let s = parse("delay 10ms loss 1%").unwrap();
        assert_eq!(s.delay().unwrap().jitter, Duration::ZERO);
        let s = parse("loss 1% 30% delay 10ms 2ms").unwrap();
        assert_eq!(s.loss().unwrap().correlation.value(), 30.0);
        let s = parse("rate 1mbit -14 limit 5").unwrap();
        assert_eq!(s.rate().unwrap().overhead, -14);
        // A third number after a rate is no word of ours.
        assert!(err("rate 1mbit 24 48").starts_with("48: unknown impairment"));
    }

    #[test]
    fn json_has_numbers_in_fixed_units() {
        let s = parse("delay 50ms 10ms 25% loss 5% rate 1mbps seed 7").unwrap();
        let j = s.to_json();
        assert_eq!(j["text"], "delay 50ms 10ms 25% loss 5% rate 8mbit seed 7");
        assert_eq!(j["delay"]["ns"], 50_000_000);
        assert_eq!(j["delay"]["jitter_ns"], 10_000_000);
        assert_eq!(j["delay"]["correlation_percent"], 25.0);
        assert_eq!(j["loss"]["percent"], 5.0);
        assert_eq!(j["duplicate"], Value::Null);
        assert_eq!(j["rate"]["bits_per_sec"], 8_000_000);
        assert_eq!(j["rate"]["overhead_bytes"], 0);
        assert_eq!(j["limit"], 1000);
        assert_eq!(j["seed"], 7);
        assert_eq!(Settings::default().to_json()["text"], "off");
    }
}
