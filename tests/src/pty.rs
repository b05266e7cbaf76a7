//! A program on a pseudo-terminal, with its screen emulated ([`vt100`]): for interactive
//! programs (`vdeterm`) that only edit lines when stdin is a terminal.

use crate::proc::{wait_child_timeout, wait_until};
use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::num::NonZeroU16;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A child process whose stdin, stdout and stderr are the slave side of a new pty (and which is
/// the session leader with that pty as controlling terminal). Everything it writes is fed to a
/// terminal emulator of `rows` x `cols`. Killed (SIGKILL) and reaped on drop.
pub struct Pty {
    master: File,
    child: Child,
    screen: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    exited: Option<ExitStatus>,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Pty {
    /// Starts `cmd` on a new pty of `rows` x `cols` (its stdio is replaced).
    pub fn spawn(mut cmd: Command, rows: u16, cols: u16) -> io::Result<Pty> {
        // SAFETY: plain libc calls on a descriptor we own; ptsname_r writes into `name`.
        let (master, slave) = unsafe {
            let fd = cvt(libc::posix_openpt(
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            ))?;
            let master = File::from_raw_fd(fd);
            cvt(libc::grantpt(fd))?;
            cvt(libc::unlockpt(fd))?;
            let ws = libc::winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            cvt(libc::ioctl(fd, libc::TIOCSWINSZ, &ws))?;
            let mut name = [0 as libc::c_char; 128];
            let r = libc::ptsname_r(fd, name.as_mut_ptr(), name.len());
            if r != 0 {
                return Err(io::Error::from_raw_os_error(r));
            }
            let path = CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned();
            let slave = File::options()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open(path)?;
            (master, slave)
        };
        cmd.stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                cvt(libc::setsid())?;
                cvt(libc::ioctl(0, libc::TIOCSCTTY, 0))?;
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        // The Command holds the slave descriptors: close them, so that reading the master ends
        // (EIO) once the child and its children are gone.
        drop(cmd);
        let rows = NonZeroU16::new(rows.max(1)).unwrap();
        let cols = NonZeroU16::new(cols.max(1)).unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        {
            let mut reader = master.try_clone()?;
            let (screen, raw) = (screen.clone(), raw.clone());
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            screen.lock().unwrap().process(&buf[..n]);
                            raw.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
            });
        }
        Ok(Pty {
            master,
            child,
            screen,
            raw,
            exited: None,
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Types `bytes` (use `\r` for Enter, `\t` for TAB, `\x04` for Ctrl-D).
    pub fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write to the pty");
        self.master.flush().expect("flush the pty");
    }

    /// The visible screen, rows joined with newlines, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// The visible rows.
    pub fn rows(&self) -> Vec<String> {
        let p = self.screen.lock().unwrap();
        let (_, cols) = p.screen().size();
        p.screen().rows(0, cols.get()).collect()
    }

    /// The row the cursor is on, trailing blanks trimmed.
    pub fn cursor_row(&self) -> String {
        let p = self.screen.lock().unwrap();
        let (row, _) = p.screen().cursor_position();
        let (_, cols) = p.screen().size();
        let line = p
            .screen()
            .rows(0, cols.get())
            .nth(row as usize)
            .unwrap_or_default();
        line.trim_end().to_string()
    }

    /// Everything the program wrote so far, escape sequences included (lossy UTF-8).
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }

    /// Waits until `cond(self)` holds; panics with `what`, the screen and the raw output if it
    /// does not within `timeout`.
    pub fn wait(&self, what: &str, timeout: Duration, mut cond: impl FnMut(&Pty) -> bool) {
        if !wait_until(timeout, || cond(self)) {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n--- screen ---\n{}\n--- raw ---\n{:?}",
                self.screen(),
                self.raw()
            );
        }
    }

    /// Waits until the screen contains `needle`.
    pub fn wait_text(&self, needle: &str, timeout: Duration) {
        self.wait(&format!("{needle:?} on the screen"), timeout, |p| {
            p.screen().contains(needle)
        });
    }

    /// Waits until the cursor's row reads exactly `line` (trailing blanks aside).
    pub fn wait_cursor_row(&self, line: &str, timeout: Duration) {
        let line = line.trim_end();
        self.wait(
            &format!("the cursor's row to read {line:?}"),
            timeout,
            |p| p.cursor_row() == line,
        );
    }

    /// The terminal's local mode flags (`c_lflag`: `ECHO`, `ICANON`, ...) as the program left
    /// them.
    pub fn local_flags(&self) -> libc::tcflag_t {
        // SAFETY: tcgetattr fills the struct; zeroed is a valid termios.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            cvt(libc::tcgetattr(self.master.as_raw_fd(), &mut t)).expect("tcgetattr");
            t.c_lflag
        }
    }

    /// Waits for the program to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = wait_child_timeout(&mut self.child, timeout);
        }
        self.exited
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.exited.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Convenience for `Pty::spawn` with a roomy screen (60 x 200).
pub fn spawn(cmd: Command) -> Pty {
    Pty::spawn(cmd, 60, 200).expect("start a program on a pty")
}
