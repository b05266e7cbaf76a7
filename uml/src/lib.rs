//! User Mode Linux tools: copy-on-write (COW) disk files, and later the launcher.

pub mod cow;
pub mod launcher;
