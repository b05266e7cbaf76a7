//! The words of a UML kernel command line, parsed just enough to check and rewrite them.
//!
//! Every word keeps its text as given; only words the launcher rewrites (network words on kernels
//! without the legacy transports) get a new text.

/// One word of the kernel command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Word {
    /// `ubd<unit><flags>=<file>[(,|:)<file2>][(,|:)<serial>]`.
    Ubd(Ubd),
    /// `eth<N>=<transport>,<options>` (legacy transports).
    Eth(Eth),
    /// `vec<N>:<key>=<value>,...` (vector transports).
    Vec(VecDev),
    /// Any other `KEY=VALUE` (kernel parameters, and init's environment).
    KeyValue { key: String, value: String },
    /// A word without `=` (`rw`, `noreboot`, `single`, ...).
    Flag(String),
}

/// A `ubd` disk word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ubd {
    /// The device index, 0..15 (`ubd0`/`ubda` is 0).
    pub index: u32,
    /// The unit as written (`0`, `a`, ...).
    pub unit: String,
    /// Flag letters (`r`, `s`, `d`, `c`, `t`).
    pub flags: String,
    /// The value split at every `,` and `:` as 6.x kernels do.
    pub fields: Vec<String>,
    /// The separators between `fields` (one fewer than fields).
    pub seps: Vec<char>,
}

impl Ubd {
    /// The first file (the COW file when a backing file follows, else the image).
    pub fn file(&self) -> &str {
        self.fields.first().map(String::as_str).unwrap_or("")
    }
    /// The backing file, if a non-empty second field is given.
    pub fn backing(&self) -> Option<&str> {
        self.fields
            .get(1)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
    pub fn has_flag(&self, c: char) -> bool {
        self.flags.contains(c)
    }
    /// The text of fields `a..=b` joined with their original separators.
    pub fn joined(&self, a: usize, b: usize) -> String {
        let mut s = self.fields[a].clone();
        for i in a..b {
            s.push(self.seps[i]);
            s.push_str(&self.fields[i + 1]);
        }
        s
    }
}

/// An `ethN=` word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Eth {
    pub index: u32,
    pub transport: String,
    /// The comma-separated fields after the transport.
    pub options: Vec<String>,
}

/// A `vecN:` word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecDev {
    pub index: u32,
    /// `key=value` pairs (a bare key has an empty value).
    pub options: Vec<(String, String)>,
}

impl VecDev {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn to_word(&self) -> String {
        let opts: Vec<String> = self
            .options
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        format!("vec{}:{}", self.index, opts.join(","))
    }
}

/// A parsed word together with its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    pub text: String,
    pub word: Word,
}

impl Arg {
    pub fn parse(text: &str) -> Arg {
        Arg {
            text: text.to_string(),
            word: parse_word(text),
        }
    }
    /// The key of a `KEY=VALUE` word (or `ubd0`, `eth1`, `vec0` for device words).
    pub fn key(&self) -> Option<&str> {
        match &self.word {
            Word::Flag(_) => None,
            Word::Vec(_) => self.text.split(':').next(),
            _ => self.text.split('=').next(),
        }
    }
}

/// Parses one word.
pub fn parse_word(text: &str) -> Word {
    if let Some(rest) = text.strip_prefix("vec") {
        if let Some((n, opts)) = rest.split_once(':') {
            if let Ok(index) = n.parse::<u32>() {
                let options = opts
                    .split(',')
                    .filter(|o| !o.is_empty())
                    .map(|o| match o.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (o.to_string(), String::new()),
                    })
                    .collect();
                return Word::Vec(VecDev { index, options });
            }
        }
    }
    let Some((key, value)) = text.split_once('=') else {
        return Word::Flag(text.to_string());
    };
    if let Some(ubd) = parse_ubd(key, value) {
        return Word::Ubd(ubd);
    }
    if let Some(n) = key.strip_prefix("eth") {
        if let Ok(index) = n.parse::<u32>() {
            let mut parts = value.split(',');
            let transport = parts.next().unwrap_or("").to_string();
            return Word::Eth(Eth {
                index,
                transport,
                options: parts.map(str::to_string).collect(),
            });
        }
    }
    Word::KeyValue {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// `ubd<unit><flags>` with unit 0..15 or a..p, flags from `rsdctD`.
fn parse_ubd(key: &str, value: &str) -> Option<Ubd> {
    let rest = key.strip_prefix("ubd")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let (index, unit, flags) = if !digits.is_empty() {
        (
            digits.parse::<u32>().ok()?,
            digits.clone(),
            &rest[digits.len()..],
        )
    } else {
        let c = rest.chars().next()?;
        if !c.is_ascii_lowercase() {
            return None;
        }
        (c as u32 - 'a' as u32, c.to_string(), &rest[1..])
    };
    if !flags.chars().all(|c| "rsdctD".contains(c)) {
        return None;
    }
    let mut fields = vec![String::new()];
    let mut seps = Vec::new();
    for c in value.chars() {
        if c == ',' || c == ':' {
            seps.push(c);
            fields.push(String::new());
        } else {
            fields.last_mut().unwrap().push(c);
        }
    }
    Some(Ubd {
        index,
        unit,
        flags: flags.to_string(),
        fields,
        seps,
    })
}

/// Parses a whole command line.
pub fn parse_all<S: AsRef<str>>(words: &[S]) -> Vec<Arg> {
    words.iter().map(|w| Arg::parse(w.as_ref())).collect()
}

/// The value of the last `key=` word, if any.
pub fn value_of<'a>(args: &'a [Arg], key: &str) -> Option<&'a str> {
    args.iter().rev().find_map(|a| match &a.word {
        Word::KeyValue { key: k, value } if k == key => Some(value.as_str()),
        _ => None,
    })
}

/// True if some word is the flag `flag`.
pub fn has_flag(args: &[Arg], flag: &str) -> bool {
    args.iter()
        .any(|a| matches!(&a.word, Word::Flag(f) if f == flag))
}

/// True if some word's key is `key` or starts with `key` followed by digits (`con`, `con0`).
pub fn has_key_family(args: &[Arg], key: &str) -> bool {
    args.iter().any(|a| match &a.word {
        Word::KeyValue { key: k, .. } => k
            .strip_prefix(key)
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit())),
        _ => false,
    })
}

/// Parses a `mem=` size (`96M`, `1G`, `65536K`, bytes) into bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ubd_words() {
        let Word::Ubd(u) = parse_word("ubd0=h1.cow,rootfs.ext4") else {
            panic!()
        };
        assert_eq!((u.index, u.flags.as_str()), (0, ""));
        assert_eq!(u.fields, ["h1.cow", "rootfs.ext4"]);
        assert_eq!(u.backing(), Some("rootfs.ext4"));
        let Word::Ubd(u) = parse_word("ubdbrs=a:b,c") else {
            panic!()
        };
        assert_eq!((u.index, u.unit.as_str(), u.flags.as_str()), (1, "b", "rs"));
        assert_eq!(u.fields, ["a", "b", "c"]);
        assert_eq!(u.joined(0, 2), "a:b,c");
        let Word::Ubd(u) = parse_word("ubd1=disk.img,,serial") else {
            panic!()
        };
        assert_eq!(u.backing(), None);
        assert_eq!(u.file(), "disk.img");
        // Not ubd words.
        assert!(matches!(parse_word("ubd0x=a"), Word::KeyValue { .. }));
        assert!(matches!(parse_word("udb0=a"), Word::KeyValue { .. }));
    }

    #[test]
    fn eth_vec_and_others() {
        assert_eq!(
            parse_word("eth0=daemon,,unix,/tmp/s/ctl"),
            Word::Eth(Eth {
                index: 0,
                transport: "daemon".into(),
                options: vec!["".into(), "unix".into(), "/tmp/s/ctl".into()],
            })
        );
        let Word::Vec(v) = parse_word("vec1:transport=vde,vnl=vde:///tmp/s,mac=02:00:00:00:00:01")
        else {
            panic!()
        };
        assert_eq!(v.index, 1);
        assert_eq!(v.get("vnl"), Some("vde:///tmp/s"));
        assert_eq!(
            v.to_word(),
            "vec1:transport=vde,vnl=vde:///tmp/s,mac=02:00:00:00:00:01"
        );
        assert_eq!(parse_word("rw"), Word::Flag("rw".into()));
        assert_eq!(
            parse_word("MYIP=10.0.0.1"),
            Word::KeyValue {
                key: "MYIP".into(),
                value: "10.0.0.1".into()
            }
        );
        let args = parse_all(&["con=null", "con0=fd:0,fd:1", "noreboot", "mem=96M"]);
        assert!(has_key_family(&args, "con"));
        assert!(!has_key_family(&args, "ssl"));
        assert!(has_flag(&args, "noreboot"));
        assert_eq!(value_of(&args, "mem"), Some("96M"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("96M"), Some(96 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
    }
}
