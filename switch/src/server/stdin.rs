//! The console on standard input: commands on stdin, answers on stdout, the
//! prompt written to fd 0 as the reference does (on a terminal it shows; on a
//! pipe the write fails harmlessly). A reader thread feeds the event loop,
//! so the loop never blocks on a terminal.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::sync::Arc;

use mio::{Token, Waker};

use vde_protocol::console::PROMPT;

use super::console::{Origin, Outcome};
use crate::server::{Exit, Server};

/// What the reader thread saw.
pub enum Input {
    Line(String),
    Eof,
}

pub struct StdinConsole {
    rx: mpsc::Receiver<Input>,
    /// stdin is a terminal: its end stops the switch (Ctrl-D), as in the reference.
    tty: bool,
    _waker: Arc<Waker>,
}

pub fn stdin_is_tty() -> bool {
    // SAFETY: isatty on fd 0 has no memory effects.
    unsafe { libc::isatty(0) == 1 }
}

fn write_prompt() {
    // SAFETY: writing a static buffer to fd 0.
    unsafe {
        libc::write(0, PROMPT.as_ptr().cast(), PROMPT.len());
    }
}

impl Server {
    /// Start reading commands from stdin (call after daemonising decisions).
    pub fn start_stdin_console(&mut self, token: Token) -> std::io::Result<()> {
        let waker = Arc::new(Waker::new(self.poll.registry(), token)?);
        let (tx, rx) = mpsc::channel();
        let w = Arc::clone(&waker);
        std::thread::Builder::new()
            .name("stdin-console".into())
            .spawn(move || {
                let stdin = std::io::stdin();
                let mut lock = stdin.lock();
                loop {
                    let mut line = String::new();
                    let msg = match lock.read_line(&mut line) {
                        Ok(0) | Err(_) => Input::Eof,
                        Ok(_) => Input::Line(line),
                    };
                    let eof = matches!(msg, Input::Eof);
                    if tx.send(msg).is_err() || w.wake().is_err() || eof {
                        return;
                    }
                }
            })?;
        self.stdin_console = Some(StdinConsole {
            rx,
            tty: stdin_is_tty(),
            _waker: waker,
        });
        if self.flavor == crate::server::Flavor::Vde {
            write_prompt();
        }
        Ok(())
    }

    /// Run what arrived on stdin; Some(exit) on `shutdown` or terminal EOF.
    pub(crate) fn on_stdin(&mut self) -> Option<Exit> {
        loop {
            let input = self.stdin_console.as_ref()?.rx.try_recv().ok()?;
            match input {
                // uml_switch reads a terminal only to notice its end.
                Input::Line(_) if self.flavor == crate::server::Flavor::Uml => {}
                Input::Line(line) => {
                    let mut out = String::new();
                    let outcome = self.run_command(Origin::Stdin, None, &line, &mut out);
                    self.drain_events();
                    let mut stdout = std::io::stdout().lock();
                    let _ = stdout.write_all(out.as_bytes());
                    let _ = stdout.flush();
                    drop(stdout);
                    match outcome {
                        Outcome::Shutdown => return Some(Exit::Shutdown),
                        // logout means nothing on stdin.
                        Outcome::Logout | Outcome::Continue => write_prompt(),
                    }
                }
                Input::Eof => {
                    let tty = self.stdin_console.take().is_some_and(|c| c.tty);
                    if tty {
                        if self.flavor == crate::server::Flavor::Uml {
                            self.say("EOF on stdin, cleaning up and exiting");
                        } else {
                            crate::log_info!("EOF on stdin, cleaning up and exiting");
                        }
                        return Some(Exit::Shutdown);
                    }
                    // A closed pipe on stdin is not a reason to stop switching
                    // (the reference exits, which breaks callers without stdin).
                    return None;
                }
            }
        }
    }
}
