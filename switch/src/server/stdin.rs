//! The console on standard input: commands on stdin, answers on stdout, the
//! prompt written to fd 0 as the reference does (on a terminal it shows; on a
//! pipe the write fails harmlessly). A reader thread feeds the event loop
//! through a waker, so the loop never blocks on a terminal (and stdin may be a
//! regular file, which epoll cannot watch).

use std::io::{BufRead, IsTerminal, Read, Write};
use std::sync::mpsc;
use std::sync::Arc;

use mio::{Token, Waker};
use vde_protocol::console::PROMPT;

use super::console::{self, Origin, Outcome};
use super::reactor::{Keep, Subscriber, Target};
use super::slab::Key;
use super::{Exit, Flavor, PlainHost, Switch};

/// What the reader thread saw.
enum Input {
    Line(String),
    /// A line longer than the console's cap, skipped whole.
    TooLong,
    Eof,
}

/// Lines read ahead of the loop at most (the reader thread waits beyond that).
const READ_AHEAD: usize = 64;

/// The next line of `r` (with its newline, if any), at most [`console::script::MAX_LINE`]
/// bytes: a longer one is read to its end and dropped.
fn read_line_capped(r: &mut impl BufRead) -> Input {
    let cap = console::script::MAX_LINE as u64 + 1;
    let mut buf = Vec::new();
    match r.by_ref().take(cap).read_until(b'\n', &mut buf) {
        Ok(0) | Err(_) => return Input::Eof,
        Ok(_) => {}
    }
    if buf.len() as u64 == cap && !buf.ends_with(b"\n") {
        // Skip the rest of the line, a bounded piece at a time.
        loop {
            buf.clear();
            match r.by_ref().take(cap).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return Input::Eof,
                Ok(_) if buf.ends_with(b"\n") => return Input::TooLong,
                Ok(_) => {}
            }
        }
    }
    Input::Line(String::from_utf8_lossy(&buf).into_owned())
}

pub struct StdinConsole {
    rx: Option<mpsc::Receiver<Input>>,
    token: Option<Token>,
    /// Kept while the console lives: a wake after the reader thread ended must still arrive.
    waker: Option<Arc<Waker>>,
    /// stdin is a terminal: its end stops the switch (Ctrl-D), as in the reference.
    tty: bool,
    flavor: Flavor,
}

pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

fn write_prompt() {
    let _ = nix::unistd::write(std::io::stdin(), PROMPT.as_bytes());
}

impl StdinConsole {
    pub fn new(flavor: Flavor) -> StdinConsole {
        StdinConsole {
            rx: None,
            token: None,
            waker: None,
            tty: stdin_is_tty(),
            flavor,
        }
    }

    fn on_line(&mut self, line: &str, sw: &mut Switch) -> Keep {
        // uml_switch reads a terminal only to notice its end.
        if self.flavor == Flavor::Uml {
            return Keep::Yes;
        }
        let mut out = String::new();
        let outcome = console::run(&mut PlainHost(sw), Origin::Stdin, line, &mut out);
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
        drop(stdout);
        match outcome {
            Outcome::Shutdown => {
                crate::log_info!("Shutdown from mgmt command");
                sw.exit = Some(Exit::Shutdown);
            }
            // logout means nothing on stdin.
            Outcome::Logout | Outcome::Continue => write_prompt(),
        }
        Keep::Yes
    }
}

impl Subscriber for StdinConsole {
    fn register(&mut self, me: Key, sw: &mut Switch) -> std::io::Result<()> {
        let token = sw.io.token(Target::Sub(me));
        self.token = Some(token);
        let waker = Arc::new(Waker::new(sw.io.registry(), token)?);
        self.waker = Some(Arc::clone(&waker));
        let (tx, rx) = mpsc::sync_channel(READ_AHEAD);
        std::thread::Builder::new()
            .name("stdin-console".into())
            .spawn(move || {
                let stdin = std::io::stdin();
                let mut lock = stdin.lock();
                loop {
                    let msg = read_line_capped(&mut lock);
                    let eof = matches!(msg, Input::Eof);
                    if tx.send(msg).is_err() || waker.wake().is_err() || eof {
                        return;
                    }
                }
            })?;
        self.rx = Some(rx);
        if self.flavor == Flavor::Vde {
            write_prompt();
        }
        Ok(())
    }

    /// Run what arrived on stdin.
    fn ready(&mut self, _: Token, _: &mio::event::Event, sw: &mut Switch) -> Keep {
        while let Some(input) = self.rx.as_ref().and_then(|rx| rx.try_recv().ok()) {
            match input {
                Input::Line(line) => {
                    self.on_line(&line, sw);
                    if sw.exit.is_some() {
                        return Keep::Yes;
                    }
                }
                Input::TooLong if self.flavor == Flavor::Vde => {
                    let mut stdout = std::io::stdout().lock();
                    let _ = writeln!(
                        stdout,
                        "line longer than {} bytes: not run\n1007 Argument list too long",
                        console::script::MAX_LINE
                    );
                    let _ = stdout.flush();
                    drop(stdout);
                    write_prompt();
                }
                Input::TooLong => {}
                Input::Eof => {
                    if self.tty {
                        let msg = "EOF on stdin, cleaning up and exiting";
                        if self.flavor == Flavor::Uml {
                            super::say(msg);
                        } else {
                            crate::log_info!("{msg}");
                        }
                        sw.exit = Some(Exit::Shutdown);
                        return Keep::Yes;
                    }
                    // A closed pipe on stdin is not a reason to stop switching
                    // (the reference exits, which breaks callers without stdin).
                    return Keep::No;
                }
            }
        }
        Keep::Yes
    }

    fn close(&mut self, sw: &mut Switch) {
        self.rx = None;
        self.waker = None;
        if let Some(token) = self.token.take() {
            sw.io.release(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_over_the_cap_are_skipped_whole() {
        let max = console::script::MAX_LINE;
        let mut text = "showinfo\n".to_string();
        text.push_str(&"x".repeat(3 * max + 5));
        text.push('\n');
        text.push_str(&"y".repeat(max));
        text.push_str("\nlast");
        let mut r = std::io::Cursor::new(text.into_bytes());
        let mut got = Vec::new();
        loop {
            match read_line_capped(&mut r) {
                Input::Eof => break,
                Input::TooLong => got.push("TOO LONG".to_string()),
                Input::Line(l) => got.push(l.chars().take(10).collect()),
            }
        }
        assert_eq!(got, ["showinfo\n", "TOO LONG", "yyyyyyyyyy", "last"]);
    }
}
