//! `load PATH` as a job that runs a script a slice at a time, so a management session can let
//! the event loop forward frames and handle signals between slices instead of running a whole
//! script (up to [`script::MAX_SCRIPT`] bytes, nested [`script::MAX_DEPTH`] deep) in one turn.
//!
//! Nested `load`s push a frame on the job's stack instead of recursing. The bytes a job
//! writes are exactly those the reference writes for the same script: each line echoed as
//! `vde[PATH]: LINE` before its answer, the status of a script after its last line.

use std::time::Instant;

use super::{exec, script, status_of, CmdResult, Exec, Host, Origin, Outcome};

/// One script being run.
struct Frame {
    path: String,
    lines: script::Script,
    /// Lines read so far (for messages).
    n: usize,
}

/// A `load` in progress: the scripts being run, outermost first.
pub struct LoadJob {
    frames: Vec<Frame>,
    /// Bytes the job wrote before the current step.
    written: usize,
    /// The length of the current step's output buffer when the step began.
    mark: usize,
    /// The most the whole job may write, nested scripts included.
    cap: usize,
}

/// How much one [`LoadJob::step`] may do.
#[derive(Debug, Clone, Copy)]
pub struct Slice {
    /// Stop before the next line once this time has come.
    pub until: Option<Instant>,
    /// Stop before the next line once this many bytes were written by the step.
    pub output: usize,
}

impl Slice {
    /// No limit: the job runs to its end.
    pub const WHOLE: Slice = Slice {
        until: None,
        output: usize::MAX,
    };
}

/// What the job does with a line that could not be run in order to go on.
fn refuse(out: &mut String, why: &str, errno: i32) -> CmdResult {
    out.push_str(&format!("load: {why}\n"));
    Err(errno)
}

impl LoadJob {
    /// Start `load PATH`. When the script cannot be run at all, what the reference answers
    /// (or our line saying why, then the status) is written to `out` and there is no job.
    pub fn open(path: &str, out: &mut String) -> Option<LoadJob> {
        let mut job = LoadJob {
            frames: Vec::new(),
            written: 0,
            mark: out.len(),
            cap: script::MAX_OUTPUT,
        };
        job.push(path, out);
        job.written = job.total(out);
        (!job.frames.is_empty()).then_some(job)
    }

    /// Bytes the job has written so far, `out` being the current step's buffer.
    fn total(&self, out: &str) -> usize {
        self.written + (out.len() - self.mark)
    }

    /// Open `path` as the innermost script, or write why not and its status.
    fn push(&mut self, path: &str, out: &mut String) {
        let result = if self.frames.len() >= script::MAX_DEPTH {
            refuse(
                out,
                &format!(
                    "{path}: scripts nested more than {} deep (does a script load itself?)",
                    script::MAX_DEPTH
                ),
                libc::ELOOP,
            )
        } else {
            match script::Script::open(std::path::Path::new(path)) {
                Ok(lines) => {
                    self.frames.push(Frame {
                        path: path.to_string(),
                        lines,
                        n: 0,
                    });
                    return;
                }
                // A missing or unreadable file answers as in the reference: the status alone.
                Err(e @ script::ScriptError::Open(_)) => Err(e.errno()),
                Err(e) => refuse(out, &e.to_string(), e.errno()),
            }
        };
        status_of(result).write(out);
    }

    /// Cap the job's output at `cap` bytes instead of [`script::MAX_OUTPUT`] (tests and
    /// fuzzing, where a smaller cap is quicker to reach).
    pub fn set_output_cap(&mut self, cap: usize) {
        self.cap = cap;
    }

    /// Whether every script has ended.
    pub fn is_done(&self) -> bool {
        self.frames.is_empty()
    }

    /// Run lines until the job ends or `slice` is used up; what they write goes to `out`.
    /// Whether the job has ended.
    pub fn step(&mut self, host: &mut dyn Host, out: &mut String, slice: Slice) -> bool {
        self.mark = out.len();
        while !self.frames.is_empty() {
            if slice.until.is_some_and(|t| Instant::now() >= t)
                || out.len() - self.mark >= slice.output
            {
                break;
            }
            self.line(host, out);
        }
        self.written = self.total(out);
        self.is_done()
    }

    /// Run the next line of the innermost script.
    fn line(&mut self, host: &mut dyn Host, out: &mut String) {
        let written = self.total(out);
        let Some(frame) = self.frames.last_mut() else {
            return;
        };
        let Some(next) = frame.lines.next_line() else {
            self.frames.pop();
            status_of(Ok(())).write(out);
            return;
        };
        frame.n += 1;
        let (path, n) = (frame.path.clone(), frame.n);
        let raw = match next {
            Ok(script::Line::Text(t)) => t,
            Ok(script::Line::TooLong) => {
                out.push_str(&format!(
                    "load: {path}:{n}: longer than {} bytes: not run\n",
                    script::MAX_LINE
                ));
                status_of(Err(libc::E2BIG)).write(out);
                return;
            }
            Err(e) => {
                self.frames.pop();
                let result = refuse(out, &format!("{path}:{n}: {e}"), e.errno());
                status_of(result).write(out);
                return;
            }
        };
        // The cap covers the whole job: each script still running stops at its next line.
        if written > self.cap {
            self.frames.pop();
            let result = refuse(
                out,
                &format!(
                    "{path}:{n}: output over {} bytes: the rest is not run",
                    self.cap
                ),
                libc::EFBIG,
            );
            status_of(result).write(out);
            return;
        }
        // As the reference reads lines: only the newline of a line longer than one character
        // is removed, so an empty line is the command "\n".
        let line = if raw.len() > 1 {
            raw.strip_suffix('\n').unwrap_or(&raw)
        } else {
            &raw
        };
        out.push_str(&format!("vde[{path}]: {line}\n"));
        if line == "\n" {
            status_of(Err(libc::ENOSYS)).write(out);
            return;
        }
        let mut answer = String::new();
        match exec(host, Origin::Session, line, &mut answer) {
            Exec::Ran(Outcome::Continue) => out.push_str(&answer),
            // `logout` and `shutdown` do nothing inside a script.
            Exec::Ran(Outcome::Logout | Outcome::Shutdown) => {}
            Exec::Load(inner) => self.push(&inner, out),
        }
    }
}
