//! A blocking client of a management socket: connect, read the banner, run one command and
//! collect its answer up to the next prompt.

use crate::protocol::{Event, Parser, Status};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The reference switch reads a command with one `read()` of at most this many bytes; anything
/// longer is cut into several commands. Longer commands are refused locally.
pub const MAX_COMMAND_LEN: usize = 128;

/// Why [`Client::connect`] failed.
#[derive(Debug)]
pub enum ConnectError {
    /// `connect()` failed.
    Connect { path: PathBuf, source: io::Error },
    /// Connected, but no banner ending with `$ ` arrived in time (or the peer closed first).
    NoBanner {
        path: PathBuf,
        timeout: Duration,
        closed: bool,
        received: Vec<u8>,
    },
    /// Reading the banner failed.
    Io { path: PathBuf, source: io::Error },
}

impl ConnectError {
    /// A multi-line, human explanation: what failed, with which path and why, and what to do.
    pub fn explain(&self) -> String {
        let hint = |p: &Path| format!("start a switch with: vde_switch -s DIR -M {}", p.display());
        match self {
            ConnectError::Connect { path, source } => {
                let why = match source.raw_os_error() {
                    Some(libc::ENOENT) => {
                        "no such socket: no switch is running with -M at that path".to_string()
                    }
                    Some(libc::ECONNREFUSED) if path.is_dir() => {
                        "that is a directory: -M names the management socket file, not the switch directory of -s".to_string()
                    }
                    Some(libc::ECONNREFUSED) => {
                        "nothing accepts connections there (a stale socket left by a switch that is gone, or not a socket)".to_string()
                    }
                    Some(libc::EACCES) | Some(libc::EPERM) => {
                        "no permission: the switch creates it with --mgmtmode (default 0600) and --mgmtgroup".to_string()
                    }
                    Some(libc::ENOTDIR) => "a component of the path is not a directory".to_string(),
                    _ => "cannot reach a switch there".to_string(),
                };
                format!(
                    "cannot connect to {}: {source}\n{why}\n{}",
                    path.display(),
                    hint(path)
                )
            }
            ConnectError::NoBanner {
                path,
                timeout,
                closed,
                received,
            } => {
                let what = if *closed {
                    "closed the connection without sending the console banner".to_string()
                } else {
                    format!("sent no console banner (ending with \"$ \") within {timeout:?}")
                };
                let got = if received.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (received {:?})",
                        String::from_utf8_lossy(&received[..received.len().min(80)])
                    )
                };
                format!(
                    "{} {what}{got}: is it a vde_switch management socket (-M)? \
                     The ctl socket in the -s directory is the data socket, not the console.\n{}",
                    path.display(),
                    hint(path)
                )
            }
            ConnectError::Io { path, source } => {
                format!("reading from {}: {source}", path.display())
            }
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explain())
    }
}

impl std::error::Error for ConnectError {}

/// How an answer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The prompt came back: the switch waits for the next command.
    Prompt,
    /// The switch closed the session after `9999 END OF SESSION` (`shutdown`, `logout`).
    EndOfSession,
    /// The connection was closed without `9999 END OF SESSION`.
    Closed,
}

/// Everything the switch said in answer to one command, up to the prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub events: Vec<Event>,
    pub end: End,
}

impl Response {
    /// The command's status: the last status line of the answer (for `load`, the status of
    /// `load` itself comes after those of the script's commands).
    pub fn status(&self) -> Option<&Status> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Status(s) => Some(s),
            _ => None,
        })
    }
    /// True unless a failing status came back. An answer with no status at all (an empty line
    /// or a comment) succeeded.
    pub fn succeeded(&self) -> bool {
        self.status().is_none_or(Status::is_success)
    }
    /// The lines of the data block(s), in order.
    pub fn data(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Data(l) => Some(l.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Why [`Client::command`] failed.
#[derive(Debug)]
pub enum CommandError {
    /// No prompt (nor end of session) within the timeout; what arrived so far is kept.
    Timeout(Vec<Event>),
    /// Writing the command or reading the answer failed.
    Io(io::Error),
    /// The command is longer than [`MAX_COMMAND_LEN`] bytes.
    TooLong(usize),
    /// The connection was already closed.
    Closed,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Timeout(_) => write!(f, "no answer from the switch in time"),
            CommandError::Io(e) => write!(f, "{e}"),
            CommandError::TooLong(n) => write!(
                f,
                "command too long ({n} bytes): the switch reads at most {MAX_COMMAND_LEN} bytes as one command"
            ),
            CommandError::Closed => write!(f, "the session is closed"),
        }
    }
}

impl std::error::Error for CommandError {}

/// A connected management session.
pub struct Client {
    stream: UnixStream,
    path: PathBuf,
    parser: Parser,
    queue: VecDeque<Event>,
    eof: bool,
    banner: String,
    prompt: String,
}

impl Client {
    /// Connects to `path` and reads the banner (waiting at most `timeout` for it).
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client, ConnectError> {
        let stream = UnixStream::connect(path).map_err(|source| ConnectError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        let mut c = Client {
            stream,
            path: path.to_path_buf(),
            parser: Parser::new(),
            queue: VecDeque::new(),
            eof: false,
            banner: String::new(),
            prompt: String::new(),
        };
        let deadline = Instant::now() + timeout;
        let mut received = Vec::new();
        loop {
            match c.next_event_raw(deadline, Some(&mut received)) {
                Ok(Some(Event::Banner { text, prompt })) => {
                    c.banner = text;
                    c.prompt = prompt;
                    return Ok(c);
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(ConnectError::NoBanner {
                        path: path.to_path_buf(),
                        timeout,
                        closed: c.eof,
                        received,
                    })
                }
                Err(source) => {
                    return Err(ConnectError::Io {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            }
        }
    }

    /// The socket path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The banner without its last line (what the stock vdeterm prints on connection).
    pub fn banner(&self) -> &str {
        &self.banner
    }
    /// The switch's prompt line, e.g. `vde$ `.
    pub fn switch_prompt(&self) -> &str {
        &self.prompt
    }
    /// The local prompt as the stock vdeterm builds it: the switch's prompt minus `$ `, then
    /// `[SOCK]: `, e.g. `vde[/tmp/sw.mgmt]: `.
    pub fn local_prompt(&self, sock: &str) -> String {
        local_prompt(&self.prompt, sock)
    }

    /// Sends `cmd` as is (no newline added, like the stock vdeterm) and collects the answer up
    /// to the next prompt, waiting at most `timeout`.
    pub fn command(&mut self, cmd: &str, timeout: Duration) -> Result<Response, CommandError> {
        if cmd.len() > MAX_COMMAND_LEN {
            return Err(CommandError::TooLong(cmd.len()));
        }
        if self.eof {
            return Err(CommandError::Closed);
        }
        self.send(cmd).map_err(CommandError::Io)?;
        self.answer(timeout)
    }

    /// Writes `cmd` verbatim.
    pub fn send(&mut self, cmd: &str) -> io::Result<()> {
        self.stream.write_all(cmd.as_bytes())
    }

    /// Collects events up to the next prompt or the end of the session.
    pub fn answer(&mut self, timeout: Duration) -> Result<Response, CommandError> {
        let deadline = Instant::now() + timeout;
        let mut events = Vec::new();
        loop {
            match self.next_event_raw(deadline, None) {
                Ok(Some(Event::Prompt)) => {
                    return Ok(Response {
                        events,
                        end: End::Prompt,
                    })
                }
                Ok(Some(e)) => events.push(e),
                Ok(None) if self.eof => {
                    let end = if events.iter().any(|e| matches!(e, Event::EndOfSession(_))) {
                        End::EndOfSession
                    } else {
                        End::Closed
                    };
                    return Ok(Response { events, end });
                }
                Ok(None) => return Err(CommandError::Timeout(events)),
                Err(e) => return Err(CommandError::Io(e)),
            }
        }
    }

    /// Hands the connection over (e.g. to a reader thread): the stream, the parser in its
    /// current state, and events already parsed but not yet consumed.
    pub fn into_parts(self) -> (UnixStream, Parser, Vec<Event>) {
        (self.stream, self.parser, self.queue.into())
    }

    /// The next event; `None` at EOF (then `self.eof`) or when `deadline` passed.
    fn next_event_raw(
        &mut self,
        deadline: Instant,
        mut record: Option<&mut Vec<u8>>,
    ) -> io::Result<Option<Event>> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Ok(Some(e));
            }
            if self.eof {
                return Ok(None);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.eof = true;
                    self.queue.extend(self.parser.finish());
                }
                Ok(n) => {
                    if let Some(r) = record.as_deref_mut() {
                        r.extend_from_slice(&buf[..n]);
                    }
                    self.queue.extend(self.parser.feed(&buf[..n]));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    self.eof = true;
                    self.queue.extend(self.parser.finish());
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The local prompt built from the switch's prompt line (`vde$ ` -> `vde[SOCK]: `).
pub fn local_prompt(switch_prompt: &str, sock: &str) -> String {
    let name = switch_prompt.strip_suffix("$ ").unwrap_or(switch_prompt);
    format!("{name}[{sock}]: ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::thread;

    const BANNER: &[u8] =
        b"VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n";

    /// A fake switch: writes the banner and prompt in two writes, then answers each read with
    /// `answer(cmd)` written in small pieces.
    fn fake(answer: fn(&str) -> Option<Vec<u8>>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mgmt");
        let l = UnixListener::bind(&path).unwrap();
        thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(BANNER).unwrap();
            s.write_all(b"\nvde$ ").unwrap();
            let mut buf = [0u8; 128];
            loop {
                let n = match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let cmd = String::from_utf8_lossy(&buf[..n]).into_owned();
                match answer(&cmd) {
                    Some(bytes) => {
                        for piece in bytes.chunks(7) {
                            s.write_all(piece).unwrap();
                            thread::sleep(Duration::from_millis(1));
                        }
                    }
                    None => return,
                }
                if cmd == "shutdown" {
                    return;
                }
            }
        });
        (dir, path)
    }

    fn answers(cmd: &str) -> Option<Vec<u8>> {
        Some(match cmd {
            "port/showinfo" => b"0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n\nvde$ ".to_vec(),
            "port/print 5" => b"0000 DATA END WITH '.'\n.\n1006 No such device or address\n\nvde$ ".to_vec(),
            "debug/add port" => b"1000 Success\n\nvde$ 3021 port/+ 01\n".to_vec(),
            "silent" => return Some(Vec::new()),
            "shutdown" => b"9999 END OF SESSION".to_vec(),
            "die" => return None,
            _ => b"1038 Function not implemented\n\nvde$ ".to_vec(),
        })
    }

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn banner_prompt_and_commands() {
        let (_d, path) = fake(answers);
        let mut c = Client::connect(&path, T).unwrap();
        assert_eq!(c.banner(), String::from_utf8_lossy(BANNER) + "\n");
        assert_eq!(c.switch_prompt(), "vde$ ");
        assert_eq!(c.local_prompt("/tmp/m"), "vde[/tmp/m]: ");

        let r = c.command("port/showinfo", T).unwrap();
        assert_eq!(r.end, End::Prompt);
        assert_eq!(r.data(), ["Numports=32", "HUB=false", "counters=true"]);
        assert!(r.succeeded());

        let r = c.command("port/print 5", T).unwrap();
        assert!(r.data().is_empty());
        assert_eq!(r.status().unwrap().code, 1006);
        assert!(!r.succeeded());

        // An async line after the prompt belongs to the next answer.
        let r = c.command("debug/add port", T).unwrap();
        assert!(r.succeeded());
        let r = c.command("nosuch", T).unwrap();
        assert_eq!(
            r.events[0],
            Event::Debug {
                code: 3021,
                text: "port/+ 01".into()
            }
        );
        assert_eq!(r.status().unwrap().code, 1038);

        assert!(matches!(
            c.command(&"x".repeat(129), T),
            Err(CommandError::TooLong(129))
        ));
        assert!(matches!(
            c.command("silent", Duration::from_millis(100)),
            Err(CommandError::Timeout(_))
        ));

        let r = c.command("shutdown", T).unwrap();
        assert_eq!(r.end, End::EndOfSession);
        assert!(r.succeeded());
        assert!(matches!(
            c.command("port/showinfo", T),
            Err(CommandError::Closed)
        ));
    }

    #[test]
    fn closed_without_end_of_session() {
        let (_d, path) = fake(answers);
        let mut c = Client::connect(&path, T).unwrap();
        let r = c.command("die", T).unwrap();
        assert_eq!(r.end, End::Closed);
    }

    #[test]
    fn connect_errors_name_the_path_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nosuch.mgmt");
        let e = Client::connect(&missing, T).err().unwrap();
        let msg = e.explain();
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(msg.contains("No such file or directory"), "{msg}");
        assert!(
            msg.contains(&format!("vde_switch -s DIR -M {}", missing.display())),
            "{msg}"
        );

        // A stale socket: bound, then the listener is gone.
        let stale = dir.path().join("stale.mgmt");
        drop(UnixListener::bind(&stale).unwrap());
        let msg = Client::connect(&stale, T).err().unwrap().explain();
        assert!(msg.contains("Connection refused"), "{msg}");

        // Silent peer (like the data socket): no banner.
        let silent = dir.path().join("silent");
        let l = UnixListener::bind(&silent).unwrap();
        let t = thread::spawn(move || l.accept().map(|(s, _)| s));
        let e = Client::connect(&silent, Duration::from_millis(100))
            .err()
            .unwrap();
        assert!(matches!(e, ConnectError::NoBanner { closed: false, .. }));
        assert!(e.explain().contains("management socket"));
        drop(t.join());
    }
}
