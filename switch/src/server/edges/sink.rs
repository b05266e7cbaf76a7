//! Where a capture goes: a pcap stream (one port) or a pcapng stream (every port, one
//! interface per port, described when the port is first seen) written to a file or a FIFO
//! without ever blocking the loop.
//!
//! Records are appended to a bounded buffer ([`PENDING_MAX`]) and written out in large
//! writes: at once when the buffer passes [`WRITE_AT`], else by a hook timer
//! [`FLUSH_DELAY`] after the first record waiting (a live reader sees frames within that
//! time). The fd is non-blocking: what a full pipe does not take stays in the buffer, partial
//! records included, so the stream stays whole; a record that does not fit in the buffer is
//! dropped and counted. The switch's frames never wait for a capture.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use vde_protocol::pcap::{ByteOrder, FileHeaderRepr, PacketRecord, MAX_SNAPLEN};
use vde_protocol::pcap::{MAGIC_MICROS, MAGIC_NANOS};
use vde_protocol::pcapng::{
    EnhancedPacketRepr, InterfaceRepr, SectionHeaderRepr, BLOCK_SECTION_HEADER,
};

use crate::fabric::PortId;

/// What the stream is written as.
enum Format {
    Pcap(FileHeaderRepr),
    /// Interface id of each port seen so far (by port number).
    Pcapng(Vec<Option<u32>>, u32),
}

/// Most bytes held for a reader that does not keep up (about 700 full-size frames).
pub const PENDING_MAX: usize = 1 << 20;
/// Write at once when this much waits, without waiting for the flush timer.
pub const WRITE_AT: usize = 64 * 1024;
/// The longest a captured frame waits in the buffer while the reader keeps up.
pub const FLUSH_DELAY: Duration = Duration::from_millis(10);

/// Why a capture cannot be written at a path.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("it exists and is not a capture (pcap or pcapng); remove it or choose another path")]
    NotACapture,
    #[error("not a regular file, a FIFO or /dev/null (symbolic links are not followed)")]
    NotAFile,
}

impl OpenError {
    /// The console's status for it.
    pub fn errno(&self) -> i32 {
        match self {
            OpenError::Io(e) => e.raw_os_error().unwrap_or(libc::EIO),
            OpenError::NotACapture => libc::EEXIST,
            OpenError::NotAFile => libc::EINVAL,
        }
    }
}

/// Whether the file starts as a pcap or pcapng file does.
fn is_capture(path: &Path) -> io::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let mut f = File::open(path)?;
    if f.read(&mut head)? < 4 {
        return Ok(false);
    }
    let magics = [MAGIC_MICROS, MAGIC_NANOS, BLOCK_SECTION_HEADER];
    Ok(magics
        .iter()
        .any(|m| head == m.to_le_bytes() || head == m.to_be_bytes()))
}

/// One pcap stream.
pub struct Sink {
    path: PathBuf,
    file: File,
    format: Format,
    pending: Vec<u8>,
    /// Frames recorded into the stream.
    pub frames: u64,
    /// Frames lost because the reader did not keep up (or the stream had ended).
    pub dropped: u64,
    /// Why the stream ended (the reader of a FIFO went away, a write failed); nothing more is
    /// written then, and frames are counted as dropped.
    pub ended: Option<String>,
    /// A flush timer is set.
    pub flush_armed: bool,
    /// The wall clock at `opened`: timestamps are `wall + (now - opened)` with the loop's
    /// `now` of the batch, so recording a frame reads no clock.
    wall: Duration,
    opened: Instant,
}

impl Sink {
    /// Open `path` for a capture and write the pcap header. A FIFO is opened without waiting:
    /// when no reader has it open yet, it is opened for reading too, so the capture waits in
    /// the pipe until a reader comes. Anything else is created or truncated.
    ///
    /// The console may belong to another user than the switch (which may run as root), so
    /// what the path may be is narrow: a new file (never through a symbolic link), an empty
    /// file or an earlier capture, a FIFO, or `/dev/null`.
    pub fn open(path: &Path, pcapng: bool) -> Result<Sink, OpenError> {
        let write = |flags: i32| {
            OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | flags)
                .clone()
        };
        let file = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                write(0).create_new(true).open(path)?
            }
            Err(e) => return Err(e.into()),
            Ok(m) if m.file_type().is_fifo() => match write(0).open(path) {
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                    write(0).read(true).open(path)?
                }
                other => other?,
            },
            Ok(m) if m.file_type().is_file() => {
                if m.len() > 0 && !is_capture(path)? {
                    return Err(OpenError::NotACapture);
                }
                write(libc::O_TRUNC).open(path)?
            }
            Ok(m) if m.file_type().is_char_device() && path == Path::new("/dev/null") => {
                write(0).open(path)?
            }
            Ok(_) => return Err(OpenError::NotAFile),
        };
        let format = if pcapng {
            Format::Pcapng(Vec::new(), 0)
        } else {
            Format::Pcap(FileHeaderRepr::ethernet(MAX_SNAPLEN))
        };
        let mut sink = Sink {
            path: path.to_path_buf(),
            file,
            format,
            pending: Vec::with_capacity(WRITE_AT * 2),
            frames: 0,
            dropped: 0,
            ended: None,
            flush_armed: false,
            wall: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
            opened: Instant::now(),
        };
        match &sink.format {
            Format::Pcap(header) => header.append(&mut sink.pending),
            Format::Pcapng(..) => {
                SectionHeaderRepr::new(Some("vde_switch (vde-rs)")).append(&mut sink.pending)
            }
        }
        sink.write_out();
        Ok(sink)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Add a frame seen at `at` on `port`; returns whether bytes wait for the flush timer.
    pub fn record(&mut self, port: PortId, frame: &[u8], at: Instant) -> bool {
        if self.ended.is_some() {
            self.dropped += 1;
            return false;
        }
        let now = self.wall + at.saturating_duration_since(self.opened);
        let need = match &self.format {
            Format::Pcap(_) => PacketRecord::new(now, frame, MAX_SNAPLEN).buffer_len(),
            Format::Pcapng(..) => {
                EnhancedPacketRepr::new(0, now, frame, MAX_SNAPLEN).buffer_len() + 64
            }
        };
        if self.pending.len() + need > PENDING_MAX {
            // Try to make room before giving the frame up.
            self.write_out();
            if self.pending.len() + need > PENDING_MAX {
                self.dropped += 1;
                return !self.pending.is_empty();
            }
        }
        match &mut self.format {
            Format::Pcap(header) => {
                PacketRecord::new(now, frame, header.snaplen).append(header, &mut self.pending)
            }
            Format::Pcapng(ids, next) => {
                let slot = port.index();
                if ids.len() <= slot {
                    ids.resize(slot + 1, None);
                }
                let id = match ids[slot] {
                    Some(id) => id,
                    None => {
                        let name = format!("port {port}");
                        InterfaceRepr::ethernet(&name, MAX_SNAPLEN)
                            .append(ByteOrder::NATIVE, &mut self.pending);
                        ids[slot] = Some(*next);
                        *next += 1;
                        *next - 1
                    }
                };
                EnhancedPacketRepr::new(id, now, frame, MAX_SNAPLEN)
                    .append(ByteOrder::NATIVE, &mut self.pending);
            }
        }
        self.frames += 1;
        if self.pending.len() >= WRITE_AT {
            self.write_out();
        }
        !self.pending.is_empty()
    }

    /// Write what the fd takes now; returns whether bytes are still waiting.
    pub fn write_out(&mut self) -> bool {
        let mut done = 0;
        while done < self.pending.len() && self.ended.is_none() {
            match self.file.write(&self.pending[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                    self.ended = Some("the reader went away".into());
                }
                Err(e) => self.ended = Some(format!("write failed: {e}")),
            }
        }
        self.pending.drain(..done);
        if self.ended.is_some() {
            self.pending.clear();
        }
        !self.pending.is_empty()
    }

    /// Bytes waiting for the reader.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "path": self.path.display().to_string(),
            "format": match self.format { Format::Pcap(_) => "pcap", Format::Pcapng(..) => "pcapng" },
            "frames": self.frames,
            "dropped": self.dropped,
            "pending_bytes": self.pending.len(),
            "ended": self.ended,
        })
    }
}

impl Drop for Sink {
    /// A last try at what waits (`off`, the switch stops); a reader that is not reading loses
    /// it.
    fn drop(&mut self) {
        self.write_out();
    }
}
