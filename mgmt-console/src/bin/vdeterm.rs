//! `vdeterm SOCK`: a console on a `vde_switch` management socket (`-M SOCK`).
//!
//! Interactive when stdin is a terminal: line editing, history, TAB completion from the
//! switch's `help`, output shown as the stock vdeterm shows it. Otherwise (`-c CMD`, or commands
//! on stdin) it runs the commands and exits with a status derived from theirs.

use clap::Parser as _;
use mgmt_console::batch::{self, BatchOptions, EXIT_CONNECT, EXIT_FAILURE, EXIT_OK};
use mgmt_console::client::{Client, MAX_COMMAND_LEN};
use mgmt_console::completion::{self, Candidate};
use mgmt_console::protocol::{render, Event, Parser};
use rustyline::completion::{Completer, Pair};
use rustyline::config::Configurer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, ExternalPrinter, Helper};
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const AFTER_HELP: &str = "\
Interactive use (stdin is a terminal): commands are sent as typed (without a newline, like the
stock vdeterm); TAB completes command names from the switch's `help`; Ctrl-C clears the line;
`logout` or Ctrl-D leaves (the switch keeps running); `shutdown` stops the switch and leaves. Asynchronous debug messages
(`debug/add ...`) are shown as they arrive. History: $VDETERM_HISTORY, else
$XDG_STATE_HOME/vdeterm/history, else ~/.vdeterm_history.

Non-interactive use (-c, or commands on stdin, one per line): data blocks go to stdout, failures
and debug messages to stderr. Exit status: 0 if every command succeeded; else that of the first
failure: NNN for a `1NNN` status with NNN in 3..=125 (the errno: 1006 -> 6, 1022 -> 22,
1038 -> 38, 1098 -> 98), 1 for other failures (1001; 1002, as 2 means a connection error;
unknown codes; no answer in time; session closed early). 2: cannot connect (or no banner), or
bad usage.

Start a switch with a management socket with: vde_switch -s DIR -M SOCK";

/// Management console for vde_switch (VDE 2.3.2 compatible).
#[derive(clap::Parser, Debug)]
#[command(
    name = "vdeterm",
    version,
    long_version = concat!(env!("CARGO_PKG_VERSION"), " (vde-rs)\nreplaces vdeterm of vde2 2.3.2"),
    after_help = AFTER_HELP
)]
struct Cli {
    /// The switch's management socket (its `-M` option).
    sock: PathBuf,
    /// Run CMD (repeatable: in order) and exit, instead of reading commands.
    #[arg(short = 'c', long = "command", value_name = "CMD")]
    commands: Vec<String>,
    /// Non-interactive: stop at the first failing command.
    #[arg(short = 'e', long = "errexit")]
    errexit: bool,
    /// Seconds to wait for the banner and for each answer.
    #[arg(short = 't', long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
    /// Interactive: do not read or write the history file.
    #[arg(long)]
    no_history: bool,
}

fn main() -> ExitCode {
    clidoc::serve_if_asked(<Cli as clap::CommandFactory>::command);
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_CONNECT
            } else {
                EXIT_OK
            });
        }
    };
    let timeout = if cli.timeout.is_finite() && cli.timeout > 0.0 {
        Duration::from_secs_f64(cli.timeout.min(1e6))
    } else {
        eprintln!("vdeterm: --timeout must be a positive number of seconds");
        return ExitCode::from(EXIT_CONNECT);
    };
    let mut client = match Client::connect(&cli.sock, timeout) {
        Ok(c) => c,
        Err(e) => {
            for line in e.explain().lines() {
                eprintln!("vdeterm: {line}");
            }
            return ExitCode::from(EXIT_CONNECT);
        }
    };
    let opts = BatchOptions {
        timeout,
        stop_on_error: cli.errexit,
    };
    let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
    let code = if !cli.commands.is_empty() {
        batch::run(&mut client, cli.commands, &opts, &mut out, &mut err)
    } else if !io::stdin().is_terminal() {
        let lines = io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>();
        batch::run(&mut client, lines, &opts, &mut out, &mut err)
    } else {
        drop((out, err));
        interactive(client, &cli, timeout)
    };
    ExitCode::from(code)
}

/// The rustyline helper: TAB completion from the command list.
struct VdeHelper {
    commands: Vec<String>,
}

impl Completer for VdeHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, candidates) = completion::complete(&self.commands, line, pos);
        Ok((
            start,
            candidates
                .into_iter()
                .map(
                    |Candidate {
                         display,
                         replacement,
                     }| Pair {
                        display,
                        replacement,
                    },
                )
                .collect(),
        ))
    }
}
impl Hinter for VdeHelper {
    type Hint = String;
}
impl Highlighter for VdeHelper {}
impl Validator for VdeHelper {}
impl Helper for VdeHelper {}

/// What the socket reader thread tells the main thread.
enum Signal {
    /// The switch sent its prompt: the answer to the last command is complete (and shown).
    Prompt,
    /// The connection is closed; `true` if the switch said `9999 END OF SESSION` first.
    Closed(bool),
}

/// Where the reader thread prints: through rustyline (above the line being edited) when
/// possible, else straight to stdout.
type Printer = Arc<Mutex<Option<Box<dyn ExternalPrinter + Send>>>>;

fn print_out(printer: &Printer, text: String) {
    let mut p = printer.lock().unwrap_or_else(|e| e.into_inner());
    let failed = match p.as_mut() {
        Some(p) => p.print(text.clone()).is_err(),
        None => true,
    };
    if failed {
        let mut o = io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        let _ = o.flush();
    }
}

/// State shared with the reader thread, to decide who ends the process when the switch closes
/// the connection while the user is editing a line.
struct Shared {
    /// The main thread is (about to be) blocked in `readline`.
    idle: AtomicBool,
    /// Someone is ending the process.
    exiting: AtomicBool,
    /// The terminal settings before rustyline touched them.
    termios: Option<libc::termios>,
}

fn interactive(mut client: Client, cli: &Cli, timeout: Duration) -> u8 {
    let sock = cli.sock.display().to_string();
    print!("{}", client.banner());
    let _ = io::stdout().flush();
    // The completion list, from `help` (sent with a newline, as the stock vdeterm does).
    let commands = match client.send("help\n").map(|_| client.answer(timeout)) {
        Ok(Ok(r)) => completion::commands_from_help(&r.data()),
        _ => Vec::new(),
    };
    let prompt = client.local_prompt(&sock);

    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut rl: Editor<VdeHelper, FileHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("vdeterm: cannot set up the terminal: {e}");
            return EXIT_FAILURE;
        }
    };
    let _ = rl.set_history_ignore_dups(true);
    let _ = rl.set_max_history_size(1000);
    rl.set_helper(Some(VdeHelper { commands }));
    let history = if cli.no_history {
        None
    } else {
        mgmt_console::history_path()
    };
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = rl.load_history(h);
    }

    let printer: Printer = Arc::new(Mutex::new(
        rl.create_external_printer()
            .ok()
            .map(|p| Box::new(p) as Box<dyn ExternalPrinter + Send>),
    ));
    let shared = Arc::new(Shared {
        idle: AtomicBool::new(false),
        exiting: AtomicBool::new(false),
        termios: saved_termios(),
    });
    let (stream, parser, pending) = client.into_parts();
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("vdeterm: {sock}: {e}");
            return EXIT_FAILURE;
        }
    };
    let (tx, rx) = mpsc::channel();
    {
        let (printer, shared) = (printer.clone(), shared.clone());
        std::thread::spawn(move || reader(stream, parser, pending, printer, tx, shared));
    }

    loop {
        shared.idle.store(true, Ordering::SeqCst);
        // The switch may have gone while the last answer was shown.
        loop {
            match rx.try_recv() {
                Ok(Signal::Closed(ended)) => return closed(&shared, ended),
                Ok(Signal::Prompt) => continue,
                Err(_) => break,
            }
        }
        let line = rl.readline(&prompt);
        shared.idle.store(false, Ordering::SeqCst);
        if shared.exiting.load(Ordering::SeqCst) {
            // The reader thread is ending the process.
            loop {
                std::thread::park();
            }
        }
        let line = match line {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => {
                println!();
                return EXIT_OK;
            }
            Err(e) => {
                eprintln!("vdeterm: {e}");
                return EXIT_FAILURE;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        if rl.add_history_entry(line.as_str()).unwrap_or(false) {
            if let Some(h) = &history {
                let _ = rl.append_history(h);
            }
        }
        // A pasted block may hold several lines: one command each.
        for cmd in line.split('\n').map(|c| c.trim_end_matches('\r')) {
            if cmd.trim().is_empty() {
                continue;
            }
            if batch::is_logout(cmd) {
                return EXIT_OK;
            }
            if cmd.len() > MAX_COMMAND_LEN {
                eprintln!(
                    "vdeterm: command too long ({} bytes): the switch reads at most {MAX_COMMAND_LEN} bytes as one command",
                    cmd.len()
                );
                continue;
            }
            // Forget prompts that belong to earlier answers.
            loop {
                match rx.try_recv() {
                    Ok(Signal::Prompt) => continue,
                    Ok(Signal::Closed(ended)) => return closed(&shared, ended),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return closed(&shared, false),
                }
            }
            if let Err(e) = writer.write_all(cmd.as_bytes()) {
                eprintln!("vdeterm: {sock}: {e}");
                return wait_closed(&rx, &shared);
            }
            match rx.recv_timeout(timeout) {
                Ok(Signal::Prompt) => {}
                Ok(Signal::Closed(ended)) => return closed(&shared, ended),
                Err(RecvTimeoutError::Timeout) => eprintln!(
                    "vdeterm: no answer from the switch within {timeout:?}; it will be shown when it comes"
                ),
                Err(RecvTimeoutError::Disconnected) => return closed(&shared, false),
            }
        }
    }
}

/// After a failed write: the reader thread will see the end of the connection soon.
fn wait_closed(rx: &Receiver<Signal>, shared: &Shared) -> u8 {
    match rx.recv_timeout(Duration::from_secs(1)) {
        Ok(Signal::Closed(ended)) => closed(shared, ended),
        _ => closed(shared, false),
    }
}

/// The switch closed the session (main thread): exit status 0 after `9999 END OF SESSION`
/// (`shutdown`), else 1 with a message.
fn closed(shared: &Shared, ended: bool) -> u8 {
    if shared.exiting.swap(true, Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    if ended {
        EXIT_OK
    } else {
        eprintln!("vdeterm: the switch closed the connection");
        EXIT_FAILURE
    }
}

fn saved_termios() -> Option<libc::termios> {
    // SAFETY: tcgetattr fills the struct it is given; zeroed is a valid termios.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        (libc::tcgetattr(0, &mut t) == 0).then_some(t)
    }
}

/// The reader thread: shows what the switch says as it arrives, and tells the main thread
/// about prompts and the end of the connection.
fn reader(
    mut stream: UnixStream,
    mut parser: Parser,
    pending: Vec<Event>,
    printer: Printer,
    tx: Sender<Signal>,
    shared: Arc<Shared>,
) {
    let mut ended = false;
    let show = |events: Vec<Event>, ended: &mut bool| {
        let mut text = String::new();
        for e in events {
            match e {
                Event::Prompt => {
                    if !text.is_empty() {
                        print_out(&printer, std::mem::take(&mut text));
                    }
                    let _ = tx.send(Signal::Prompt);
                }
                Event::EndOfSession(_) => *ended = true,
                e => {
                    if let Some(t) = render(&e) {
                        text.push_str(&t);
                        text.push('\n');
                    }
                }
            }
        }
        if !text.is_empty() {
            print_out(&printer, text);
        }
    };
    show(pending, &mut ended);
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => show(parser.feed(&buf[..n]), &mut ended),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    show(parser.finish(), &mut ended);
    let _ = tx.send(Signal::Closed(ended));
    // If the user is editing a line, nobody will look at the channel: end the process here,
    // leaving the terminal as it was.
    std::thread::sleep(Duration::from_millis(50));
    if shared.idle.load(Ordering::SeqCst) && !shared.exiting.swap(true, Ordering::SeqCst) {
        if let Some(t) = &shared.termios {
            // SAFETY: restores settings read by tcgetattr.
            unsafe { libc::tcsetattr(0, libc::TCSADRAIN, t) };
        }
        let mut o = io::stdout().lock();
        // Bracketed paste off, as rustyline would on leaving.
        if io::stdout().is_terminal() {
            let _ = o.write_all(b"\x1b[?2004l");
        }
        let _ = o.write_all(b"\n");
        let _ = o.flush();
        drop(o);
        let code = if ended {
            EXIT_OK
        } else {
            eprintln!("vdeterm: the switch closed the connection");
            EXIT_FAILURE
        };
        std::process::exit(code.into());
    }
}
