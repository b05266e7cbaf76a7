//! A small re-implementation of glibc's `getopt_long_only` scanning rules.
//!
//! Only the scanning is reproduced (which word is which option, where its
//! argument comes from, and the wording of the diagnostics); acting on the
//! options is up to the caller. Rules, in the order glibc applies them:
//!
//! * A word that is exactly `--` ends the options; every later word is an
//!   operand. A lone `-` and any word not starting with `-` are operands.
//!   Operands do not stop the scan (glibc "permutes" them to the end).
//! * `--name[=value]` is always a long option.
//! * `-name[=value]` is tried as a long option first, unless it is a single
//!   character that is also a short option (`-d` is always the short `d`).
//!   When no long option matches and the first character is a short option,
//!   the word is read as a cluster of short options instead (`-xd`, `-n8`);
//!   otherwise it is an unrecognised option.
//! * A long name matches exactly, or as an abbreviation of exactly one long
//!   option. In `long_only` mode glibc reports every abbreviation matching two
//!   or more table entries as ambiguous, even entries that are synonyms.
//! * A long option taking an argument uses the text after `=`, or else the
//!   next word whatever it looks like. A short option taking an argument uses
//!   the rest of its cluster, or else the next word.
//!
//! One deliberate addition: long options flagged `extension` (ours, not the
//! reference's) only take part in abbreviation matching when no reference
//! option matches. So every abbreviation the reference accepted keeps its
//! meaning (`--ma` is still `--macaddr`, not ambiguous with `--maxframe`). Extensions
//! flagged `whole_after_one_dash` are not abbreviated after a single dash at all, so that
//! clusters of short options keep their meaning too (`-dg GROUP`).

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// One entry of the long option table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LongOpt<K> {
    pub name: &'static str,
    pub has_arg: bool,
    pub key: K,
    /// Not in the reference table; see the module documentation.
    pub extension: bool,
    /// After a single dash, match only the whole name: its abbreviations would take words
    /// the reference reads as clusters of short options (`-dg GROUP` is `-d -g GROUP`, not
    /// an abbreviation of `-dgram`).
    pub whole_after_one_dash: bool,
}

/// One short option letter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShortOpt<K> {
    pub letter: u8,
    pub has_arg: bool,
    pub key: K,
}

/// What the scanner found next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event<'a, K> {
    /// An option, with its argument when the option takes one.
    Opt { key: K, value: Option<&'a OsStr> },
    /// A word that is not an option.
    Operand(&'a OsStr),
}

/// A scanning error, worded like glibc's diagnostics (without the program
/// name prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GetoptError {
    /// `unrecognized option '--foo=bar'` (the word as typed).
    Unrecognized(String),
    /// `invalid option -- 'z'` (inside a short cluster).
    InvalidShort(String),
    /// `option '--m' is ambiguous; possibilities: '--mod' '--mode'`.
    Ambiguous {
        typed: String,
        candidates: Vec<String>,
    },
    /// `option '--hub' doesn't allow an argument` (full option name).
    NoArgumentAllowed(String),
    /// `option '--sock' requires an argument` (full option name).
    LongMissingArgument(String),
    /// `option requires an argument -- 's'`.
    ShortMissingArgument(String),
}

impl fmt::Display for GetoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetoptError::Unrecognized(w) => write!(f, "unrecognized option '{w}'"),
            GetoptError::InvalidShort(c) => write!(f, "invalid option -- '{c}'"),
            GetoptError::Ambiguous { typed, candidates } => {
                write!(f, "option '{typed}' is ambiguous; possibilities:")?;
                for c in candidates {
                    write!(f, " '{c}'")?;
                }
                Ok(())
            }
            GetoptError::NoArgumentAllowed(o) => {
                write!(f, "option '{o}' doesn't allow an argument")
            }
            GetoptError::LongMissingArgument(o) => write!(f, "option '{o}' requires an argument"),
            GetoptError::ShortMissingArgument(c) => {
                write!(f, "option requires an argument -- '{c}'")
            }
        }
    }
}

/// Outcome of looking a name up in the long table.
enum Lookup {
    Found(usize),
    Ambiguous(Vec<usize>),
    NoMatch,
}

/// The scanner. Call [`Getopt::next_event`] until it returns `None`; stop at
/// the first error (the scanner's position after an error is unspecified).
pub(crate) struct Getopt<'a, K> {
    args: &'a [std::ffi::OsString],
    longs: &'a [LongOpt<K>],
    shorts: &'a [ShortOpt<K>],
    /// Index of the next word to look at.
    pos: usize,
    /// Inside a short cluster: (word index, byte offset of the next letter).
    cluster: Option<(usize, usize)>,
    /// `--` seen: everything left is an operand.
    operands_only: bool,
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl<'a, K: Copy> Getopt<'a, K> {
    pub(crate) fn new(
        args: &'a [std::ffi::OsString],
        longs: &'a [LongOpt<K>],
        shorts: &'a [ShortOpt<K>],
    ) -> Self {
        Getopt {
            args,
            longs,
            shorts,
            pos: 0,
            cluster: None,
            operands_only: false,
        }
    }

    fn short(&self, letter: u8) -> Option<&'a ShortOpt<K>> {
        // ':' (and ';', which glibc also refuses) can never name an option.
        if letter == b':' || letter == b';' {
            return None;
        }
        self.shorts.iter().find(|s| s.letter == letter)
    }

    /// Finds `name` in the long table: exact match first, then a unique
    /// abbreviation among the reference options, then among our extensions.
    fn lookup(&self, name: &[u8], one_dash: bool) -> Lookup {
        if let Some(i) = self.longs.iter().position(|o| o.name.as_bytes() == name) {
            return Lookup::Found(i);
        }
        for extension in [false, true] {
            let hits: Vec<usize> = self
                .longs
                .iter()
                .enumerate()
                .filter(|(_, o)| {
                    o.extension == extension
                        && !(one_dash && o.whole_after_one_dash)
                        && o.name.as_bytes().starts_with(name)
                })
                .map(|(i, _)| i)
                .collect();
            match hits.len() {
                0 => {}
                1 => return Lookup::Found(hits[0]),
                _ => return Lookup::Ambiguous(hits),
            }
        }
        Lookup::NoMatch
    }

    /// Returns the next option or operand, `None` at the end of the words.
    pub(crate) fn next_event(&mut self) -> Option<Result<Event<'a, K>, GetoptError>> {
        if let Some((word, offset)) = self.cluster {
            return Some(self.short_at(word, offset));
        }
        let args = self.args;
        let word = args.get(self.pos)?;
        let bytes = word.as_bytes();
        if self.operands_only || bytes.len() < 2 || bytes[0] != b'-' {
            self.pos += 1;
            return Some(Ok(Event::Operand(word.as_os_str())));
        }
        if bytes == b"--" {
            self.operands_only = true;
            self.pos += 1;
            return self.next_event();
        }
        if bytes[1] == b'-' {
            return Some(match self.long_at(2) {
                Some(result) => result,
                None => {
                    self.pos += 1;
                    Err(GetoptError::Unrecognized(lossy(bytes)))
                }
            });
        }
        // glibc asks strchr(optstring, c), and ':' is in every optstring that
        // has options with arguments: "-:" is read as an (invalid) short option.
        let first_is_short = bytes[1] == b':' || self.short(bytes[1]).is_some();
        if bytes.len() > 2 || !first_is_short {
            if let Some(result) = self.long_at(1) {
                return Some(result);
            }
            if !first_is_short {
                self.pos += 1;
                return Some(Err(GetoptError::Unrecognized(lossy(bytes))));
            }
        }
        let word_index = self.pos;
        Some(self.short_at(word_index, 1))
    }

    /// Handles the current word as a long option whose name starts at byte
    /// `start`. `None` means no long option matched (nothing consumed).
    fn long_at(&mut self, start: usize) -> Option<Result<Event<'a, K>, GetoptError>> {
        let args = self.args;
        let bytes = args[self.pos].as_bytes();
        let prefix = &bytes[..start];
        let rest = &bytes[start..];
        let (name, inline_value) = match rest.iter().position(|&b| b == b'=') {
            Some(eq) => (&rest[..eq], Some(OsStr::from_bytes(&rest[eq + 1..]))),
            None => (rest, None),
        };
        let shown = |o: &LongOpt<K>| format!("{}{}", lossy(prefix), o.name);
        let index = match self.lookup(name, start == 1) {
            Lookup::NoMatch => return None,
            Lookup::Ambiguous(hits) => {
                self.pos += 1;
                return Some(Err(GetoptError::Ambiguous {
                    typed: lossy(bytes),
                    candidates: hits.iter().map(|&i| shown(&self.longs[i])).collect(),
                }));
            }
            Lookup::Found(i) => i,
        };
        let opt = &self.longs[index];
        self.pos += 1;
        let value = match (opt.has_arg, inline_value) {
            (false, None) => None,
            (false, Some(_)) => return Some(Err(GetoptError::NoArgumentAllowed(shown(opt)))),
            (true, Some(v)) => Some(v),
            (true, None) => match args.get(self.pos) {
                Some(next) => {
                    self.pos += 1;
                    Some(next.as_os_str())
                }
                None => return Some(Err(GetoptError::LongMissingArgument(shown(opt)))),
            },
        };
        Some(Ok(Event::Opt {
            key: opt.key,
            value,
        }))
    }

    /// Handles the short option letter at `offset` of word `word`.
    fn short_at(&mut self, word: usize, offset: usize) -> Result<Event<'a, K>, GetoptError> {
        let args = self.args;
        let bytes = args[word].as_bytes();
        let letter = bytes[offset];
        let more_letters = offset + 1 < bytes.len();
        // Move past this letter (or the word) before anything can fail.
        self.cluster = more_letters.then_some((word, offset + 1));
        self.pos = word + 1;
        let Some(opt) = self.short(letter) else {
            return Err(GetoptError::InvalidShort(lossy(&[letter])));
        };
        if !opt.has_arg {
            return Ok(Event::Opt {
                key: opt.key,
                value: None,
            });
        }
        self.cluster = None;
        let value = if more_letters {
            OsStr::from_bytes(&bytes[offset + 1..])
        } else if let Some(next) = args.get(word + 1) {
            self.pos = word + 2;
            next.as_os_str()
        } else {
            return Err(GetoptError::ShortMissingArgument(lossy(&[letter])));
        };
        Ok(Event::Opt {
            key: opt.key,
            value: Some(value),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum K {
        Alpha,
        Alps,
        Beta,
        Bet,
        Flag,
        Ext,
        Extra,
    }

    const LONGS: &[LongOpt<K>] = &[
        LongOpt {
            name: "alpha",
            has_arg: true,
            key: K::Alpha,
            extension: false,
            whole_after_one_dash: false,
        },
        LongOpt {
            name: "alps",
            has_arg: false,
            key: K::Alps,
            extension: false,
            whole_after_one_dash: false,
        },
        LongOpt {
            name: "beta",
            has_arg: true,
            key: K::Beta,
            extension: false,
            whole_after_one_dash: false,
        },
        LongOpt {
            name: "bet",
            has_arg: true,
            key: K::Bet,
            extension: false,
            whole_after_one_dash: false,
        },
        LongOpt {
            name: "flag",
            has_arg: false,
            key: K::Flag,
            extension: false,
            whole_after_one_dash: false,
        },
        LongOpt {
            name: "alpine",
            has_arg: false,
            key: K::Ext,
            extension: true,
            whole_after_one_dash: false,
        },
        LongOpt {
            name: "extra",
            has_arg: false,
            key: K::Extra,
            extension: true,
            whole_after_one_dash: false,
        },
    ];
    const SHORTS: &[ShortOpt<K>] = &[
        ShortOpt {
            letter: b'a',
            has_arg: true,
            key: K::Alpha,
        },
        ShortOpt {
            letter: b'f',
            has_arg: false,
            key: K::Flag,
        },
        ShortOpt {
            letter: b'b',
            has_arg: true,
            key: K::Beta,
        },
    ];

    type Scan = Vec<Result<(Option<K>, Option<String>), String>>;

    fn scan(words: &[&str]) -> Scan {
        let args: Vec<OsString> = words.iter().map(OsString::from).collect();
        let mut g = Getopt::new(&args, LONGS, SHORTS);
        let mut out = Vec::new();
        while let Some(ev) = g.next_event() {
            match ev {
                Ok(Event::Opt { key, value }) => out.push(Ok((
                    Some(key),
                    value.map(|v| v.to_string_lossy().into_owned()),
                ))),
                Ok(Event::Operand(w)) => {
                    out.push(Ok((None, Some(w.to_string_lossy().into_owned()))))
                }
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        out
    }

    fn opt(k: K, v: Option<&str>) -> Result<(Option<K>, Option<String>), String> {
        Ok((Some(k), v.map(str::to_owned)))
    }

    fn operand(v: &str) -> Result<(Option<K>, Option<String>), String> {
        Ok((None, Some(v.to_owned())))
    }

    #[test]
    fn exact_beats_prefix() {
        assert_eq!(scan(&["--bet", "x"]), vec![opt(K::Bet, Some("x"))]);
        assert_eq!(scan(&["-bet=x"]), vec![opt(K::Bet, Some("x"))]);
    }

    #[test]
    fn prefixes_and_ambiguity() {
        assert_eq!(scan(&["--alph", "v"]), vec![opt(K::Alpha, Some("v"))]);
        assert_eq!(
            scan(&["--al"]),
            vec![Err(
                "option '--al' is ambiguous; possibilities: '--alpha' '--alps'".into()
            )]
        );
        assert_eq!(
            scan(&["-be=1"]),
            vec![Err(
                "option '-be=1' is ambiguous; possibilities: '-beta' '-bet'".into()
            )]
        );
    }

    #[test]
    fn extensions_only_when_reference_has_no_match() {
        // "alp" matches alpha and alps (reference) and alpine (extension):
        // the reference set decides, and it is ambiguous on its own.
        assert_eq!(
            scan(&["--alp"]),
            vec![Err(
                "option '--alp' is ambiguous; possibilities: '--alpha' '--alps'".into()
            )]
        );
        assert_eq!(scan(&["--alpi"]), vec![opt(K::Ext, None)]);
        assert_eq!(scan(&["--alpine"]), vec![opt(K::Ext, None)]);
        assert_eq!(scan(&["-e"]), vec![opt(K::Extra, None)]);
    }

    #[test]
    fn single_dash_rules() {
        // single letter that is a short option: short
        assert_eq!(scan(&["-f"]), vec![opt(K::Flag, None)]);
        // single letter that is not a short option: long lookup
        assert_eq!(scan(&["-e"]), vec![opt(K::Extra, None)]);
        // longer word without long match: short cluster
        assert_eq!(
            scan(&["-ffa8"]),
            vec![
                opt(K::Flag, None),
                opt(K::Flag, None),
                opt(K::Alpha, Some("8"))
            ]
        );
        // longer word that is a long prefix: long
        assert_eq!(scan(&["-fl"]), vec![opt(K::Flag, None)]);
        // unknown first letter: unrecognized, whole word quoted
        assert_eq!(
            scan(&["-zz=1"]),
            vec![Err("unrecognized option '-zz=1'".into())]
        );
        // unknown letter inside a cluster
        assert_eq!(
            scan(&["-fz"]),
            vec![opt(K::Flag, None), Err("invalid option -- 'z'".into())]
        );
        assert_eq!(scan(&["-:"]), vec![Err("invalid option -- ':'".into())]);
    }

    #[test]
    fn arguments() {
        assert_eq!(scan(&["-a", "-f"]), vec![opt(K::Alpha, Some("-f"))]);
        assert_eq!(scan(&["--alpha", "--"]), vec![opt(K::Alpha, Some("--"))]);
        assert_eq!(scan(&["--alpha="]), vec![opt(K::Alpha, Some(""))]);
        assert_eq!(
            scan(&["-a"]),
            vec![Err("option requires an argument -- 'a'".into())]
        );
        assert_eq!(
            scan(&["--alph"]),
            vec![Err("option '--alpha' requires an argument".into())]
        );
        assert_eq!(
            scan(&["-fla=1"]),
            vec![Err("option '-flag' doesn't allow an argument".into())]
        );
        assert_eq!(
            scan(&["--bogus=1"]),
            vec![Err("unrecognized option '--bogus=1'".into())]
        );
    }

    #[test]
    fn operands_and_double_dash() {
        assert_eq!(
            scan(&["x", "-f", "-", "--", "-f", "--alpha"]),
            vec![
                operand("x"),
                opt(K::Flag, None),
                operand("-"),
                operand("-f"),
                operand("--alpha"),
            ]
        );
    }
}
