//! The progress bar of long merges, commits and conversions.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::{Duration, Instant};
use uml_cow::ops;

/// A progress bar that shows up only when the work takes more than a second, and only on a
/// terminal.
pub struct Bar {
    quiet: bool,
    label: &'static str,
    start: Instant,
    bar: Option<ProgressBar>,
    slow: Option<Duration>,
}

impl Bar {
    pub fn new(quiet: bool, label: &'static str) -> Bar {
        Bar {
            quiet,
            label,
            start: Instant::now(),
            bar: None,
            slow: ops::test_step_delay(),
        }
    }
    pub fn tick(&mut self, done: u64, total: u64) {
        if let Some(d) = self.slow {
            std::thread::sleep(d);
        }
        if self.quiet {
            return;
        }
        if self.bar.is_none() && self.start.elapsed() > Duration::from_secs(1) {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(self.label);
            self.bar = Some(bar);
        }
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
