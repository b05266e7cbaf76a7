//! `vdecap SOCK PORT|all`: the frames crossing a port of a running switch, as a pcap stream on
//! stdout (`vdecap /tmp/s1.mgmt 3 | tcpdump -n -r -`), without root.
//!
//! The capture data does not travel on the management session (its text protocol has no room
//! for binary data): vdecap makes a FIFO in a private directory, opens it for reading, asks the
//! switch for `port/capture PORT FIFO` on the session, and copies the FIFO to stdout. It stops
//! when the switch closes the FIFO (`port/capture PORT off` from anywhere, or the switch
//! stops), when stdout's reader goes away, or on SIGINT/SIGTERM; then it turns the capture off
//! and removes the FIFO. A switch whose capture cannot keep up loses captured frames (shown by
//! `port/capture`), never the frames it forwards.

use clap::Parser as _;
use mgmt_console::client::Client;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Capture a port of a running vde_switch as pcap on stdout.
#[derive(clap::Parser, Debug)]
#[command(
    name = "vdecap",
    version,
    long_version = concat!(env!("CARGO_PKG_VERSION"), " (vde-rs)\nno stock counterpart: streams a switch port's frames as pcap, through port/capture"),
    after_help = "Example: vdecap /tmp/s1.mgmt 3 | tcpdump -n -r -\n\
The switch writes the capture into a FIFO vdecap makes in a private directory under $TMPDIR\n\
(default /tmp); the switch must be able to open it (same user, or root)."
)]
struct Cli {
    /// The switch's management socket (its `-M` option).
    sock: PathBuf,
    /// The port to capture, or `all` for every port in one stream.
    port: String,
    /// Seconds to wait for the switch's answers.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM end the copy (a blocked read returns EINTR: no SA_RESTART); SIGPIPE is
/// ignored so that a reader leaving shows as EPIPE.
fn install_signals() {
    // SAFETY: sigaction with a handler that only stores to an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        for sig in [libc::SIGINT, libc::SIGTERM] {
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// A private directory holding the FIFO, removed on drop.
struct Fifo {
    dir: PathBuf,
    path: PathBuf,
}

impl Fifo {
    fn make() -> io::Result<Fifo> {
        let base = std::env::var_os("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        let template = CString::new(base.join("vdecap.XXXXXX").as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mut raw = template.into_bytes_with_nul();
        // SAFETY: raw is a NUL-terminated template that mkdtemp fills in place.
        let made = unsafe { libc::mkdtemp(raw.as_mut_ptr().cast()) };
        if made.is_null() {
            return Err(io::Error::last_os_error());
        }
        raw.pop();
        let dir = PathBuf::from(std::ffi::OsStr::from_bytes(&raw));
        let path = dir.join("pcap");
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: c is a valid NUL-terminated path.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            let e = io::Error::last_os_error();
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        Ok(Fifo { dir, path })
    }

    /// Open for reading without waiting for a writer, then make reads blocking.
    fn open(&self) -> io::Result<File> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.path)?;
        use std::os::fd::AsRawFd;
        // SAFETY: fcntl on an fd we own.
        unsafe {
            let flags = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
        Ok(f)
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn command(client: &mut Client, cmd: &str, timeout: Duration) -> Result<(), String> {
    let answer = client
        .command(&format!("{cmd}\n"), timeout)
        .map_err(|e| format!("{cmd}: {e}"))?;
    if answer.succeeded() {
        return Ok(());
    }
    let mut why: Vec<String> = answer.data().iter().map(|l| l.to_string()).collect();
    if let Some(s) = answer.status() {
        why.push(s.to_string());
    }
    Err(format!("{cmd}: {}", why.join("; ")))
}

fn run(cli: &Cli) -> Result<(), String> {
    let valid = cli.port == "all" || cli.port.parse::<u16>().is_ok();
    if !valid {
        return Err(format!("{}: expected a port number or all", cli.port));
    }
    let timeout = Duration::from_secs_f64(cli.timeout.clamp(0.1, 3600.0));
    let mut client = Client::connect(&cli.sock, timeout).map_err(|e| e.explain())?;
    let fifo = Fifo::make().map_err(|e| format!("cannot make a FIFO for the capture: {e}"))?;
    let mut input = fifo
        .open()
        .map_err(|e| format!("{}: {e}", fifo.path.display()))?;
    install_signals();
    command(
        &mut client,
        &format!("port/capture {} {}", cli.port, fifo.path.display()),
        timeout,
    )?;
    let copied = copy(&mut input, &mut io::stdout().lock());
    // Whatever ended the copy, the capture stops with vdecap (the switch would also end it at
    // its next write, when it finds no reader).
    drop(input);
    let _ = command(
        &mut client,
        &format!("port/capture {} off", cli.port),
        timeout,
    );
    drop(fifo);
    copied
}

/// Copy until the writer closes, stdout's reader leaves, or a signal.
fn copy(input: &mut File, out: &mut impl Write) -> Result<(), String> {
    let mut buf = vec![0u8; 1 << 16];
    while !STOP.load(Ordering::SeqCst) {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the capture: {e}")),
        };
        match out.write_all(&buf[..n]).and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(format!("writing to stdout: {e}")),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    clidoc::serve_if_asked(<Cli as clap::CommandFactory>::command);
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vdecap: {e}");
            ExitCode::from(1)
        }
    }
}
