//! Integers as C reads them, for the command line and the console: scripts written for the
//! reference rely on `atoi` (`port/sethub` is `port/sethub 0`) and on `%i` (`0x10`, `010`).

/// C's `isspace`, which `atoi` and `%i` skip before a number.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// C `atoi`: leading blanks, optional sign, decimal digits; anything else stops; no digits → 0.
/// Saturates instead of overflowing.
pub fn atoi(s: &str) -> i64 {
    let s = s.trim_start_matches(is_c_space);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// One `%i` conversion: blanks, optional sign, then hexadecimal after `0x`, octal after `0`,
/// decimal otherwise. Returns the value (saturated) and the rest, or `None` if no number.
pub fn scan_int(s: &str) -> Option<(i64, &str)> {
    let s = s.trim_start_matches(is_c_space);
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if body.starts_with("0x") || body.starts_with("0X") {
        (16, &body[2..])
    } else if body.starts_with('0') {
        (8, body)
    } else {
        (10, body)
    };
    let len = digits.chars().take_while(|c| c.is_digit(radix)).count();
    if len == 0 {
        // "0x" with no hex digits reads as 0 followed by "x".
        if radix == 16 {
            return Some((0, &body[1..]));
        }
        return None;
    }
    let v = i64::from_str_radix(&digits[..len], radix).unwrap_or(i64::MAX);
    Some((if neg { -v } else { v }, &digits[len..]))
}

/// `sscanf(s, "%i %i ...")` for `n` numbers; `None` unless all were read.
pub fn scan_ints(s: &str, n: usize) -> Option<Vec<i64>> {
    let mut rest = s;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let (x, r) = scan_int(rest)?;
        v.push(x);
        rest = r;
    }
    Some(v)
}

/// A whole text that is one `%i` number fitting a C `int`, and nothing else (option values).
pub fn parse_int(s: &str) -> Option<i32> {
    match scan_int(s)? {
        (v, "") => i32::try_from(v).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_semantics() {
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi("  12abc"), 12);
        assert_eq!(atoi("\x0b7"), 7);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("x1"), 0);
        assert_eq!(atoi("0x10"), 0);
        assert_eq!(atoi("99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn scanf_semantics() {
        assert_eq!(scan_ints("1 5", 2), Some(vec![1, 5]));
        assert_eq!(scan_ints("0x10 010", 2), Some(vec![16, 8]));
        assert_eq!(scan_ints("-0x10\t+7", 2), Some(vec![-16, 7]));
        assert_eq!(scan_ints("7", 2), None);
        assert_eq!(scan_ints("a 1", 2), None);
        assert_eq!(scan_int("0x"), Some((0, "x")));
        assert_eq!(scan_int("08"), Some((0, "8")));
    }

    #[test]
    fn whole_c_ints() {
        assert_eq!(parse_int("32"), Some(32));
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("0X1f"), Some(31));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("  12"), Some(12));
        assert_eq!(parse_int("2147483647"), Some(i32::MAX));
        assert_eq!(parse_int("-2147483648"), Some(i32::MIN));
        assert_eq!(parse_int("2147483648"), None);
        assert_eq!(parse_int("99999999999999999999"), None);
        for bad in [
            "", " ", "abc", "12x", "08", "0x", "0xg", "-", "1 ", "1.5", "+-5",
        ] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }
}
