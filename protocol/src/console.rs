//! The management console's text protocol (`-M` sockets, the console on stdin, rc files).
//!
//! What the switch writes, byte for byte as `vde_switch` 2.3.2 does:
//!
//! | when | bytes |
//! | --- | --- |
//! | a session opens | [`BANNER`] then [`PROMPT`] |
//! | a command with data | `0000 DATA END WITH '.'\n`, body lines, `.\n` ([`write_data_block`]) |
//! | every command | a status line: `1000 Success\n` or `1NNN <strerror text>\n` ([`Status`]) |
//! | after each answer | [`PROMPT`], `\nvde$ ` (no newline after it) |
//! | any time, to subscribers | `3TTT <category> <text>\n`, TTT the category tag in octal ([`debug_line`]) |
//! | `logout`, `shutdown` | [`END_OF_SESSION`] without a newline, then the session closes |
//!
//! A data block and its `.` are written even when the command then fails (`port/print 5` is
//! `0000 DATA END WITH '.'\n.\n1006 No such device or address\n`).
//!
//! The writing side is a handful of functions over `String`; the reading side is [`Parser`],
//! an incremental parser turning the byte stream into [`Event`]s. Neither does any I/O.

use std::fmt;

/// What a session sees first (the prompt follows it).
pub const BANNER: &str =
    "VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n";
/// Written after every answer; the switch then waits for the next command.
pub const PROMPT: &str = "\nvde$ ";
/// The first line of a data block.
pub const DATA_HEADER: &str = "0000 DATA END WITH '.'";
/// The line that closes a data block.
pub const DATA_END: &str = ".";
/// Written, without a newline, before the switch closes a session.
pub const END_OF_SESSION: &str = "9999 END OF SESSION";

/// The code of the data block header line.
pub const DATA_CODE: u16 = 0;
/// The status code of a successful command (`1000 Success`).
pub const SUCCESS_CODE: u16 = 1000;
/// The code of [`END_OF_SESSION`].
pub const END_OF_SESSION_CODE: u16 = 9999;

/// A status line `1NNN text`: 1000 is success, otherwise NNN is the errno of the failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: u16,
    pub text: String,
}

impl Status {
    /// `1000 Success`.
    pub fn success() -> Status {
        Status {
            code: SUCCESS_CODE,
            text: "Success".into(),
        }
    }

    /// `1NNN text` for a failure with `errno` (1..=999) described by `text` (its `strerror`).
    pub fn failure(errno: u16, text: impl Into<String>) -> Status {
        Status {
            code: SUCCESS_CODE + errno.min(999),
            text: text.into(),
        }
    }

    pub fn is_success(&self) -> bool {
        self.code == SUCCESS_CODE
    }

    /// The errno a failing status carries (`1006` -> 6); `None` for success.
    pub fn errno(&self) -> Option<u16> {
        (1001..=1999).contains(&self.code).then(|| self.code - 1000)
    }

    /// Reads a status line (without its newline): a `1xxx` code, a space, the text.
    pub fn parse(line: &str) -> Option<Status> {
        match split_code(line)? {
            (code @ 1000..=1999, text) => Some(Status {
                code,
                text: text.to_string(),
            }),
            _ => None,
        }
    }

    /// Appends the status line, newline included.
    pub fn write(&self, out: &mut String) {
        out.push_str(&self.to_string());
        out.push('\n');
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04} {}", self.code, self.text)
    }
}

/// Appends a data block holding `body` (lines each ending in `\n`, or nothing).
pub fn write_data_block(out: &mut String, body: &str) {
    out.push_str(DATA_HEADER);
    out.push('\n');
    out.push_str(body);
    out.push_str(DATA_END);
    out.push('\n');
}

/// An asynchronous debug line: `3TTT category text\n`, TTT the tag as three octal digits.
pub fn debug_line(tag: u16, category: &str, text: &str) -> String {
    format!("3{:03o} {category} {text}\n", tag & 0o777)
}

/// If `line` starts with a 4-digit code followed by a space (or nothing), the code and the text
/// after the space.
pub fn split_code(line: &str) -> Option<(u16, &str)> {
    let b = line.as_bytes();
    if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let text = match b.get(4) {
        None => "",
        Some(b' ') => &line[5..],
        Some(_) => return None,
    };
    Some((line[..4].parse().ok()?, text))
}

/// One unit of what the switch said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The connection banner: `text` is everything before its last line (with its newlines),
    /// `prompt` the last line, e.g. `vde$ `.
    Banner { text: String, prompt: String },
    /// `0000 DATA END WITH '.'`: the lines up to [`Event::DataEnd`] are data.
    DataStart,
    /// One line of a data block (without its newline).
    Data(String),
    /// The `.` line closing a data block.
    DataEnd,
    /// A `1xxx` status line: the end of a command's answer (the prompt follows).
    Status(Status),
    /// A `3xxx` asynchronous debug line: `code` (e.g. 3031) and the text after it.
    Debug { code: u16, text: String },
    /// `9999 END OF SESSION`: the switch is closing the session.
    EndOfSession(String),
    /// The prompt (`vde$ ` after a newline): the switch waits for the next command.
    Prompt,
    /// Any other line (blank lines before the prompt, `vde[PATH]: ...` echoes of `load`, ...).
    Other(String),
}

/// Where the banner ends (just after its prompt line), if it is complete. The stock vdeterm
/// takes the banner to be complete when what arrived ends with `$ `; this also finds the prompt
/// when more follows in the same read: the first `$ ` ending a line start without spaces
/// (`vde$ `).
fn banner_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for i in 0..buf.len().saturating_sub(1) {
        match buf[i] {
            b'\n' => line_start = i + 1,
            b'$' if buf[i + 1] == b' ' && !buf[line_start..i].contains(&b' ') => {
                return Some(i + 2)
            }
            _ => {}
        }
    }
    buf.ends_with(b"$ ").then_some(buf.len())
}

/// Incremental parser of a management session's output: bytes in any chunks, events out.
#[derive(Clone, Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
    prompt: Option<Vec<u8>>,
    in_data: bool,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// The prompt line learnt from the banner (e.g. `vde$ `), once the banner is complete.
    pub fn prompt(&self) -> Option<String> {
        self.prompt
            .as_ref()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    }

    /// True while inside a data block.
    pub fn in_data(&self) -> bool {
        self.in_data
    }

    /// Feeds bytes read from the socket; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        loop {
            let Some(prompt) = &self.prompt else {
                let Some(end) = banner_end(&self.buf) else {
                    return events;
                };
                let cut = self.buf[..end]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |i| i + 1);
                let text = String::from_utf8_lossy(&self.buf[..cut]).into_owned();
                let prompt = self.buf[cut..end].to_vec();
                self.buf.drain(..end);
                events.push(Event::Banner {
                    text,
                    prompt: String::from_utf8_lossy(&prompt).into_owned(),
                });
                self.prompt = Some(prompt);
                continue;
            };
            if !self.in_data {
                if self.buf.starts_with(prompt) {
                    self.buf.drain(..prompt.len());
                    events.push(Event::Prompt);
                    continue;
                }
                if prompt.starts_with(&self.buf) {
                    // Nothing, or the beginning of a prompt: wait for more.
                    return events;
                }
            }
            let Some(nl) = self.buf.iter().position(|&c| c == b'\n') else {
                return events;
            };
            let line: Vec<u8> = self.buf.drain(..=nl).take(nl).collect();
            let line = String::from_utf8_lossy(&line).into_owned();
            events.push(self.line(line));
        }
    }

    /// The connection was closed: returns the events of what is left (a partial last line, such
    /// as `9999 END OF SESSION`, which has no newline).
    pub fn finish(&mut self) -> Vec<Event> {
        let rest = std::mem::take(&mut self.buf);
        let mut events = Vec::new();
        if !rest.is_empty() {
            let text = String::from_utf8_lossy(&rest).into_owned();
            if self.prompt.is_none() {
                events.push(Event::Other(text));
            } else {
                events.push(self.line(text));
            }
        }
        self.in_data = false;
        events
    }

    fn line(&mut self, line: String) -> Event {
        if self.in_data {
            if line == DATA_END {
                self.in_data = false;
                return Event::DataEnd;
            }
            return Event::Data(line);
        }
        match split_code(&line) {
            Some((DATA_CODE, _)) => {
                self.in_data = true;
                Event::DataStart
            }
            Some((1000..=1999, _)) => Event::Status(Status::parse(&line).expect("a 1xxx code")),
            Some((code @ 3000..=3999, text)) => Event::Debug {
                code,
                text: text.to_string(),
            },
            Some((END_OF_SESSION_CODE, _)) => Event::EndOfSession(line),
            _ => Event::Other(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = Parser::new();
        let mut ev = Vec::new();
        for c in chunks {
            ev.extend(p.feed(c));
        }
        ev.extend(p.finish());
        ev
    }

    fn banner() -> Event {
        Event::Banner {
            text: format!("{BANNER}\n"),
            prompt: "vde$ ".into(),
        }
    }

    fn session_start() -> String {
        format!("{BANNER}{PROMPT}")
    }

    #[test]
    fn the_writers_make_the_reference_bytes() {
        let mut out = String::new();
        write_data_block(&mut out, "Numports=32\nHUB=false\ncounters=true\n");
        Status::success().write(&mut out);
        assert_eq!(
            out,
            "0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n"
        );
        let mut out = String::new();
        write_data_block(&mut out, "");
        Status::failure(6, "No such device or address").write(&mut out);
        assert_eq!(
            out,
            "0000 DATA END WITH '.'\n.\n1006 No such device or address\n"
        );
        assert_eq!(
            debug_line(0o31, "port/ep/+", "Port 01 FD  6"),
            "3031 port/ep/+ Port 01 FD  6\n"
        );
        assert_eq!(session_start().len(), 91);
    }

    #[test]
    fn banner_and_data_block() {
        let ans = b"0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n\nvde$ ";
        let ev = parse_all(&[session_start().as_bytes(), ans]);
        assert_eq!(
            ev,
            vec![
                banner(),
                Event::DataStart,
                Event::Data("Numports=32".into()),
                Event::Data("HUB=false".into()),
                Event::Data("counters=true".into()),
                Event::DataEnd,
                Event::Status(Status::success()),
                Event::Other(String::new()),
                Event::Prompt,
            ]
        );
    }

    #[test]
    fn byte_by_byte_is_the_same() {
        let all = format!(
            "{}0000 DATA END WITH '.'\nVDE switch\n\npid 1\n.\n1000 Success\n\nvde$ 3031 port/ep/+ Port 01 FD  6\n1006 No such device or address\n\nvde$ 9999 END OF SESSION",
            session_start()
        );
        let whole = parse_all(&[all.as_bytes()]);
        let bytes: Vec<&[u8]> = all.as_bytes().chunks(1).collect();
        assert_eq!(parse_all(&bytes), whole);
        assert_eq!(
            whole,
            vec![
                banner(),
                Event::DataStart,
                Event::Data("VDE switch".into()),
                Event::Data(String::new()),
                Event::Data("pid 1".into()),
                Event::DataEnd,
                Event::Status(Status::success()),
                Event::Other(String::new()),
                Event::Prompt,
                Event::Debug {
                    code: 3031,
                    text: "port/ep/+ Port 01 FD  6".into()
                },
                Event::Status(Status::failure(6, "No such device or address")),
                Event::Other(String::new()),
                Event::Prompt,
                Event::EndOfSession(END_OF_SESSION.into()),
            ]
        );
    }

    #[test]
    fn two_answers_in_one_read() {
        // A 201-byte line is two commands for the reference: two answers arrive together.
        let ans = b"1038 Function not implemented\n\nvde$ 1038 Function not implemented\n\nvde$ ";
        let ev = parse_all(&[session_start().as_bytes(), ans]);
        assert_eq!(ev.iter().filter(|e| **e == Event::Prompt).count(), 2);
    }

    #[test]
    fn prompt_like_data_is_data() {
        let ans = b"0000 DATA END WITH '.'\nvde$ x\n.\n1000 Success\n\nvde$ ";
        let ev = parse_all(&[session_start().as_bytes(), ans]);
        assert_eq!(ev[2], Event::Data("vde$ x".into()));
    }

    #[test]
    fn partial_prompt_waits() {
        let mut p = Parser::new();
        assert_eq!(p.feed(session_start().as_bytes()), vec![banner()]);
        assert_eq!(
            p.feed(b"1000 Success\n\nvd"),
            vec![
                Event::Status(Status::success()),
                Event::Other(String::new())
            ]
        );
        assert_eq!(p.feed(b"e$ "), vec![Event::Prompt]);
    }

    #[test]
    fn banner_in_two_writes_and_other_prompt_names() {
        let mut p = Parser::new();
        assert!(p.feed(b"My switch\n").is_empty());
        assert_eq!(
            p.feed(b"\nsw1$ "),
            vec![Event::Banner {
                text: "My switch\n\n".into(),
                prompt: "sw1$ ".into()
            }]
        );
        assert_eq!(p.prompt().as_deref(), Some("sw1$ "));
        assert_eq!(
            p.feed(b"\nsw1$ "),
            vec![Event::Other(String::new()), Event::Prompt]
        );
    }

    #[test]
    fn codes() {
        assert_eq!(split_code("1000 Success"), Some((1000, "Success")));
        assert_eq!(
            split_code("0000 DATA END WITH '.'"),
            Some((0, "DATA END WITH '.'"))
        );
        assert_eq!(split_code("9999"), Some((9999, "")));
        assert_eq!(split_code("10000 x"), None);
        assert_eq!(split_code("Port 0001"), None);
        assert_eq!(split_code("12a4 x"), None);
        let s = Status::failure(6, "No such device or address");
        assert_eq!(s.errno(), Some(6));
        assert!(!s.is_success());
        assert_eq!(s.to_string(), "1006 No such device or address");
        assert_eq!(Status::parse(&s.to_string()), Some(s));
        assert_eq!(Status::parse("3031 port/+ 01"), None);
        assert_eq!(Status::success().errno(), None);
    }

    #[test]
    fn eof_before_banner() {
        assert_eq!(
            parse_all(&[b"garbage"]),
            vec![Event::Other("garbage".into())]
        );
        assert!(parse_all(&[]).is_empty());
    }
}
