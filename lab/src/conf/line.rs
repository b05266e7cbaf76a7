//! One line of `lab.conf`, split into its key and value (no meaning attached yet).

/// The key of a setting, by shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// `NAME=...` (`LAB_DESCRIPTION`, ...).
    Plain(String),
    /// `NAME[ARG]=...` (`h1[0]`, `h1[mem]`).
    One(String, String),
    /// `NAME[ARG][OPT]=...` (`h1[0][vlan]`, `domain[A][hub]`).
    Two(String, String, String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Plain(n) => write!(f, "{n}"),
            Key::One(n, a) => write!(f, "{n}[{a}]"),
            Key::Two(n, a, o) => write!(f, "{n}[{a}][{o}]"),
        }
    }
}

/// A setting: `key=value` on line `line` (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub line: usize,
    pub key: Key,
    pub value: String,
}

/// What is wrong with a line's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError {
    pub what: String,
    pub fix: String,
}

/// Splits one line. `Ok(None)` for blank lines and comments.
///
/// A `#` starts a comment at the beginning of a line, or after a space outside quotes (so
/// `h1[0]=A   # eth0 on A` works, and a `#` inside a quoted description stays). Spaces around
/// the key and the value are dropped, and one pair of matching quotes around the value.
pub fn split(text: &str, line: usize) -> Result<Option<Setting>, ShapeError> {
    let text = strip_comment(text).trim();
    if text.is_empty() {
        return Ok(None);
    }
    let Some((key, value)) = text.split_once('=') else {
        return Err(ShapeError {
            what: format!("`{text}` is not a setting"),
            fix: "write KEY=VALUE, e.g. h1[0]=A (eth0 of h1 on collision domain A)".into(),
        });
    };
    let key = parse_key(key.trim())?;
    let value = unquote(value.trim()).map_err(|q| ShapeError {
        what: format!("the value of {key} opens a {q} quote that is not closed"),
        fix: format!("close it: {key}={q}...{q}"),
    })?;
    Ok(Some(Setting {
        line,
        key,
        value: value.to_string(),
    }))
}

fn strip_comment(text: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if prev_space => return &text[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    text
}

fn unquote(v: &str) -> Result<&str, char> {
    for q in ['"', '\''] {
        if let Some(rest) = v.strip_prefix(q) {
            return rest.strip_suffix(q).ok_or(q);
        }
    }
    Ok(v)
}

fn parse_key(key: &str) -> Result<Key, ShapeError> {
    let bad = |what: String| ShapeError {
        what,
        fix: "keys look like LAB_DESCRIPTION, h1[0], h1[mem], h1[0][vlan] or domain[A][hub]".into(),
    };
    if key.is_empty() {
        return Err(bad("a line starts with `=`: the key is missing".into()));
    }
    let Some(open) = key.find('[') else {
        if key.contains(']') || key.contains(char::is_whitespace) {
            return Err(bad(format!("`{key}` is not a key")));
        }
        return Ok(Key::Plain(key.to_string()));
    };
    let name = &key[..open];
    let mut parts = Vec::new();
    let mut rest = &key[open..];
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return Err(bad(format!("`{key}`: text after `]`")));
        };
        let Some(close) = inner.find(']') else {
            return Err(bad(format!("`{key}`: a `[` is not closed")));
        };
        let part = inner[..close].trim();
        if part.is_empty() || part.contains('[') {
            return Err(bad(format!("`{key}`: empty or nested brackets")));
        }
        parts.push(part.to_string());
        rest = &inner[close + 1..];
    }
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad(format!("`{key}`: the name before `[` is missing")));
    }
    match parts.as_slice() {
        [a] => Ok(Key::One(name.into(), a.clone())),
        [a, o] => Ok(Key::Two(name.into(), a.clone(), o.clone())),
        _ => Err(bad(format!("`{key}`: at most two [...] parts"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Setting {
        split(text, 7).unwrap().unwrap()
    }

    #[test]
    fn shapes() {
        assert_eq!(
            ok("h1[0]=A"),
            Setting {
                line: 7,
                key: Key::One("h1".into(), "0".into()),
                value: "A".into()
            }
        );
        assert_eq!(ok("  h1[0] = \"A\"  # eth0").value, "A");
        assert_eq!(
            ok("h1[0][vlan]=10").key,
            Key::Two("h1".into(), "0".into(), "vlan".into())
        );
        assert_eq!(
            ok("LAB_DESCRIPTION=\"a # in quotes\" # comment").value,
            "a # in quotes"
        );
        assert_eq!(ok("h1[env]=A=B").value, "A=B");
        assert_eq!(ok("LAB_AUTHOR=").value, "");
        assert_eq!(split("   # only a comment", 1), Ok(None));
        assert_eq!(split("", 1), Ok(None));
        assert_eq!(ok("LAB_WEB=http://x/#anchor").value, "http://x/#anchor");
    }

    #[test]
    fn malformed() {
        for bad in [
            "h1[0]",
            "=A",
            "h1[0=A",
            "h1[]=A",
            "[0]=A",
            "h1[0]x=A",
            "h1[0][a][b]=A",
            "h1[0]=\"A",
            "a b=c",
        ] {
            assert!(split(bad, 1).is_err(), "{bad}");
        }
    }
}
