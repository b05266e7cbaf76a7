//! Argument parsing with C semantics (`atoi`, `sscanf("%i")`), because
//! scripts written for the reference rely on them (`port/sethub` = 0, `0x10`).

/// C `atoi`: leading blanks, optional sign, decimal digits; anything else stops; no digits → 0.
pub fn atoi(s: &str) -> i64 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
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

/// One `%i` conversion: returns the value and the rest, or None if no number.
fn scan_i(s: &str) -> Option<(i64, &str)> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r']);
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

/// `sscanf(s, "%i %i ...")` for `n` numbers; None unless all were read.
pub fn scan_ints(s: &str, n: usize) -> Option<Vec<i64>> {
    let mut rest = s;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let (x, r) = scan_i(rest)?;
        v.push(x);
        rest = r;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_semantics() {
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi("  12abc"), 12);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("x1"), 0);
        assert_eq!(scan_ints("1 5", 2), Some(vec![1, 5]));
        assert_eq!(scan_ints("0x10 010", 2), Some(vec![16, 8]));
        assert_eq!(scan_ints("7", 2), None);
        assert_eq!(scan_ints("a 1", 2), None);
    }
}
