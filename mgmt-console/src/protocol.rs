//! The console protocol of a `vde_switch` management (`-M`) socket, as a stream parser.
//!
//! What the switch writes (reference 2.3.2, consmgmt.c):
//! * on accept, a banner whose last line is the prompt: `VDE switch V.2.3.2\n(C) ...\n\nvde$ `;
//! * per command, optionally a data block `0000 DATA END WITH '.'\n` + body lines + `.\n`, then a
//!   status line `1000 Success\n` or `1NNN <strerror>\n`, then the prompt again, `\nvde$ ` (the
//!   prompt has no trailing newline);
//! * at any time (for debug subscriptions), asynchronous lines `3TTT <category> <message>\n`
//!   (TTT is an octal tag), which may directly follow a prompt on the same "line";
//! * on `logout`/`shutdown`, `9999 END OF SESSION` (no newline), then the connection is closed.
//!
//! [`Parser`] turns the byte stream into [`Event`]s; it never blocks and does no I/O.

use std::fmt;

/// The code of the data block header line `0000 DATA END WITH '.'`.
pub const DATA_CODE: u16 = 0;
/// The status code of a successful command (`1000 Success`).
pub const SUCCESS_CODE: u16 = 1000;
/// The code of `9999 END OF SESSION`, sent before the switch closes the session.
pub const END_OF_SESSION_CODE: u16 = 9999;

/// A status line `1NNN text`: 1000 is success, otherwise NNN is the errno of the failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: u16,
    pub text: String,
}

impl Status {
    pub fn is_success(&self) -> bool {
        self.code == SUCCESS_CODE
    }
    /// The errno a failing status carries (`1006` -> 6); `None` for success.
    pub fn errno(&self) -> Option<u16> {
        (1001..=1999).contains(&self.code).then(|| self.code - 1000)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04} {}", self.code, self.text)
    }
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

/// Incremental parser of a management session's output.
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
            if line == "." {
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
            Some((code @ 1000..=1999, text)) => Event::Status(Status {
                code,
                text: text.to_string(),
            }),
            Some((code @ 3000..=3999, text)) => Event::Debug {
                code,
                text: text.to_string(),
            },
            Some((END_OF_SESSION_CODE, _)) => Event::EndOfSession(line),
            _ => Event::Other(line),
        }
    }
}

/// How the stock vdeterm shows an event: data lines raw, the text of `1xxx` status lines,
/// `** DBG MSG: <text>` for `3xxx` lines; the banner as is; nothing for anything else.
/// The returned text has no final newline (except a banner, which is returned verbatim).
pub fn render(event: &Event) -> Option<String> {
    match event {
        Event::Banner { text, .. } => Some(text.clone()),
        Event::Data(line) => Some(line.clone()),
        Event::Status(s) => Some(s.text.clone()),
        Event::Debug { text, .. } => Some(format!("** DBG MSG: {text}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BANNER: &str = "VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n\nvde$ ";

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
            text: "VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n\n".into(),
            prompt: "vde$ ".into(),
        }
    }

    #[test]
    fn banner_and_data_block() {
        let ans = b"0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n\nvde$ ";
        let ev = parse_all(&[BANNER.as_bytes(), ans]);
        assert_eq!(
            ev,
            vec![
                banner(),
                Event::DataStart,
                Event::Data("Numports=32".into()),
                Event::Data("HUB=false".into()),
                Event::Data("counters=true".into()),
                Event::DataEnd,
                Event::Status(Status {
                    code: 1000,
                    text: "Success".into()
                }),
                Event::Other(String::new()),
                Event::Prompt,
            ]
        );
    }

    #[test]
    fn byte_by_byte_is_the_same() {
        let all = format!(
            "{BANNER}0000 DATA END WITH '.'\nVDE switch\n\npid 1\n.\n1000 Success\n\nvde$ 3031 port/ep/+ Port 01 FD  6\n1006 No such device or address\n\nvde$ 9999 END OF SESSION"
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
                Event::Status(Status {
                    code: 1000,
                    text: "Success".into()
                }),
                Event::Other(String::new()),
                Event::Prompt,
                Event::Debug {
                    code: 3031,
                    text: "port/ep/+ Port 01 FD  6".into()
                },
                Event::Status(Status {
                    code: 1006,
                    text: "No such device or address".into()
                }),
                Event::Other(String::new()),
                Event::Prompt,
                Event::EndOfSession("9999 END OF SESSION".into()),
            ]
        );
    }

    #[test]
    fn two_answers_in_one_read() {
        // A 201-byte line is two commands for the reference: two answers arrive together.
        let ans = b"1038 Function not implemented\n\nvde$ 1038 Function not implemented\n\nvde$ ";
        let ev = parse_all(&[BANNER.as_bytes(), ans]);
        assert_eq!(ev.iter().filter(|e| **e == Event::Prompt).count(), 2);
    }

    #[test]
    fn prompt_like_data_is_data() {
        let ans = b"0000 DATA END WITH '.'\nvde$ x\n.\n1000 Success\n\nvde$ ";
        let ev = parse_all(&[BANNER.as_bytes(), ans]);
        assert_eq!(ev[2], Event::Data("vde$ x".into()));
    }

    #[test]
    fn partial_prompt_waits() {
        let mut p = Parser::new();
        assert_eq!(p.feed(BANNER.as_bytes()), vec![banner()]);
        assert_eq!(p.feed(b"1000 Success\n\nvd"), {
            vec![
                Event::Status(Status {
                    code: 1000,
                    text: "Success".into(),
                }),
                Event::Other(String::new()),
            ]
        });
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
        let s = Status {
            code: 1006,
            text: "No such device or address".into(),
        };
        assert_eq!(s.errno(), Some(6));
        assert!(!s.is_success());
        assert_eq!(s.to_string(), "1006 No such device or address");
    }

    #[test]
    fn rendering_like_the_stock_vdeterm() {
        assert_eq!(render(&Event::Data(" x".into())).as_deref(), Some(" x"));
        assert_eq!(
            render(&Event::Status(Status {
                code: 1000,
                text: "Success".into()
            }))
            .as_deref(),
            Some("Success")
        );
        assert_eq!(
            render(&Event::Debug {
                code: 3021,
                text: "port/+ 01".into()
            })
            .as_deref(),
            Some("** DBG MSG: port/+ 01")
        );
        assert_eq!(render(&Event::Other("vde[x]: y".into())), None);
        assert_eq!(render(&Event::Prompt), None);
        assert_eq!(render(&Event::DataStart), None);
        assert_eq!(
            render(&Event::EndOfSession("9999 END OF SESSION".into())),
            None
        );
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
