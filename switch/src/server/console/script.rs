//! Command scripts (rc files, `load`) read as a bounded stream: only regular files, at most
//! [`MAX_SCRIPT`] bytes, lines of at most [`MAX_LINE`] bytes. The reference reads whatever it
//! is given, whole: `load /dev/zero` or a FIFO without a writer stops the switch.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Take};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The longest command line: what one read of a management session holds.
pub const MAX_LINE: usize = 4096;
/// The largest script, in bytes.
pub const MAX_SCRIPT: u64 = 1 << 20;
/// How deep `load` may nest (a script loading itself stops there).
pub const MAX_DEPTH: usize = 8;
/// The most output one `load` may produce, nested loads included; the rest is not run.
pub const MAX_OUTPUT: usize = 16 << 20;

/// Why a script cannot be run, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{0}")]
    Open(#[from] io::Error),
    #[error("{path} is {kind}, not a regular file: only regular files are read as scripts")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path} is larger than {max} bytes: split it into smaller scripts")]
    TooBig { path: String, max: u64 },
}

impl ScriptError {
    /// The errno a console status shows for it.
    pub fn errno(&self) -> i32 {
        match self {
            ScriptError::Open(e) => e.raw_os_error().unwrap_or(libc::EIO),
            ScriptError::NotRegular {
                kind: "a directory",
                ..
            } => libc::EISDIR,
            ScriptError::NotRegular { .. } => libc::EINVAL,
            ScriptError::TooBig { .. } => libc::EFBIG,
        }
    }
}

/// One line of a script.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Its bytes, with the newline if it had one (UTF-8, lossy).
    Text(String),
    /// Longer than [`MAX_LINE`]: skipped whole, up to its newline.
    TooLong,
}

/// An open script.
pub struct Script {
    reader: BufReader<Take<File>>,
    path: String,
    /// Bytes read so far.
    read: u64,
}

/// Whether `path` can be opened for reading, without blocking on a FIFO.
pub fn readable(path: &Path) -> bool {
    open_nonblocking(path).is_ok()
}

fn open_nonblocking(path: &Path) -> io::Result<File> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: a terminal must not
    // become the switch's.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

impl Script {
    /// Open `path` (shown as `shown`), refusing anything but a regular file of at most
    /// [`MAX_SCRIPT`] bytes.
    pub fn open(path: &Path) -> Result<Script, ScriptError> {
        let shown = path.display().to_string();
        let file = open_nonblocking(path)?;
        let meta = file.metadata()?;
        let t = meta.file_type();
        let kind = if t.is_file() {
            None
        } else if t.is_dir() {
            Some("a directory")
        } else if t.is_fifo() {
            Some("a FIFO")
        } else if t.is_char_device() {
            Some("a character device")
        } else if t.is_block_device() {
            Some("a block device")
        } else if t.is_socket() {
            Some("a socket")
        } else {
            Some("not a regular file")
        };
        if let Some(kind) = kind {
            return Err(ScriptError::NotRegular { path: shown, kind });
        }
        if meta.len() > MAX_SCRIPT {
            return Err(ScriptError::TooBig {
                path: shown,
                max: MAX_SCRIPT,
            });
        }
        // Files whose size says nothing (/proc) are cut at the cap while reading.
        Ok(Script {
            reader: BufReader::new(file.take(MAX_SCRIPT + 1)),
            path: shown,
            read: 0,
        })
    }

    /// The next line; `None` at the end. A file that grew past [`MAX_SCRIPT`] while being
    /// read is an error there.
    pub fn next_line(&mut self) -> Option<Result<Line, ScriptError>> {
        let mut line = Vec::new();
        let mut too_long = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e.into())),
            };
            if buf.is_empty() {
                break;
            }
            let (take, end) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if !too_long && line.len() + take <= MAX_LINE + 1 {
                line.extend_from_slice(&buf[..take]);
            } else {
                too_long = true;
                line.clear();
            }
            self.reader.consume(take);
            self.read += take as u64;
            if end {
                break;
            }
        }
        if self.read > MAX_SCRIPT {
            return Some(Err(ScriptError::TooBig {
                path: self.path.clone(),
                max: MAX_SCRIPT,
            }));
        }
        // The newline does not count against the cap.
        let body = line.strip_suffix(b"\n").map_or(line.len(), <[u8]>::len);
        if too_long || body > MAX_LINE {
            return Some(Ok(Line::TooLong));
        }
        if line.is_empty() {
            return None;
        }
        Some(Ok(Line::Text(String::from_utf8_lossy(&line).into_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(content: &[u8]) -> Vec<Result<Line, String>> {
        let dir = tempfile_dir();
        let p = dir.join("s");
        std::fs::write(&p, content).unwrap();
        let mut s = Script::open(&p).unwrap();
        let mut out = Vec::new();
        while let Some(l) = s.next_line() {
            let stop = l.is_err();
            out.push(l.map_err(|e| e.to_string()));
            if stop {
                break;
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    fn tempfile_dir() -> std::path::PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!(
            "vde-script-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn text(s: &str) -> Result<Line, String> {
        Ok(Line::Text(s.to_string()))
    }

    #[test]
    fn lines_keep_their_newline_and_the_last_may_lack_it() {
        assert_eq!(
            lines_of(b"a\n\nb"),
            vec![text("a\n"), text("\n"), text("b")]
        );
        assert_eq!(lines_of(b""), vec![]);
    }

    #[test]
    fn a_line_over_the_cap_is_skipped_whole() {
        let mut content = vec![b'x'; MAX_LINE + 10];
        content.extend_from_slice(b"\nok\n");
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        content.extend_from_slice(&exact);
        let got = lines_of(&content);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], Ok(Line::TooLong));
        assert_eq!(got[1], text("ok\n"));
        assert_eq!(got[2], Ok(Line::Text(String::from_utf8(exact).unwrap())));
    }

    #[test]
    fn devices_fifos_and_directories_are_refused() {
        let dir = tempfile_dir();
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = |p: &Path| Script::open(p).err().unwrap();
        assert_eq!(err(&fifo).errno(), libc::EINVAL);
        assert!(err(&fifo)
            .to_string()
            .contains("is a FIFO, not a regular file"));
        assert_eq!(err(Path::new("/dev/zero")).errno(), libc::EINVAL);
        assert_eq!(err(&dir).errno(), libc::EISDIR);
        assert_eq!(err(&dir.join("none")).errno(), libc::ENOENT);
        let big = dir.join("big");
        std::fs::write(&big, vec![b'\n'; MAX_SCRIPT as usize + 1]).unwrap();
        assert_eq!(err(&big).errno(), libc::EFBIG);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
