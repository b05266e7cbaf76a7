//! The console on standard input: commands on stdin, answers on stdout, the
//! prompt written to fd 0 as the reference does (on a terminal it shows; on a
//! pipe the write fails harmlessly). A reader thread feeds the event loop
//! through a waker, so the loop never blocks on a terminal (and stdin may be a
//! regular file, which epoll cannot watch).

use std::io::{BufRead, IsTerminal, Write};
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
    Eof,
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
        let (tx, rx) = mpsc::channel();
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
