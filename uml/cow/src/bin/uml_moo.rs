//! `uml_moo [-b BACKING] COW OUT` and `uml_moo -d [-b BACKING] COW`: a drop-in for the
//! uml-utilities tool. Merges a COW file with its backing file into a new image OUT, or with
//! `-d` into the backing file itself.
//!
//! Differences from the stock tool, all on purpose: options are accepted in any order
//! (`-b X -d COW` works); the output is built unnamed and appears under OUT only when complete;
//! an output that is the backing file or the COW file is refused; a partial last sector is kept;
//! the merge copies whole runs (`copy_file_range`, holes skipped with `SEEK_DATA`); and files a
//! running UML guest holds are refused (OFD locks, which conflict with the kernel's). Like the
//! stock tool it returns once the kernel has the data; `--sync` (ours only) waits until it is on
//! disk. Exit status: 0 done, 1 refused, failed or usage (as the stock tool).

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::PathBuf;
use uml_cow::{commit, merge, CommitOptions, MergeOptions};

const USAGE: &str = "uml_moo usage:
\tuml_moo [ -b <actual backing file> ] <COW file> <new backing file>
\tuml_moo [ -b <actual backing file> ] -d <COW file>
Creates a new filesystem image from the COW file and its backing file.
Specifying -d will cause a destructive, in-place merge of the COW file into
its current backing file
Specifying -b overrides the backing_file specified in the COW file.  This is
needed when dealing with a COW file that was created inside a chroot jail.
uml_moo supports version 1,2 and 3 COW files.
";
/// Our one extension, shown by `-h` only (usage errors print the stock text).
const EXTENSION: &str = "Specifying --sync waits until the result is on disk before returning.
";

fn main() {
    uml_cow::sys::file_size_limit_as_error();
    std::process::exit(run(std::env::args_os().skip(1).collect()));
}

fn usage() -> i32 {
    eprint!("{USAGE}");
    1
}

fn run(args: Vec<OsString>) -> i32 {
    let mut destructive = false;
    let mut durable = false;
    let mut backing: Option<PathBuf> = None;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut options_done = false;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if options_done || s == "-" || !s.starts_with('-') {
            files.push(a.into());
        } else if s == "--" {
            options_done = true;
        } else if s == "-d" {
            destructive = true;
        } else if s == "--sync" {
            durable = true;
        } else if s == "-b" {
            match it.next() {
                Some(b) => backing = Some(b.into()),
                None => return usage(),
            }
        } else if s == "-h" || s == "--help" {
            print!("{USAGE}{EXTENSION}");
            return 0;
        } else if s == "--version" {
            println!(
                "uml_moo {} (vde-rs)\nreplaces uml_moo of uml-utilities 20070815",
                env!("CARGO_PKG_VERSION")
            );
            return 0;
        } else {
            eprintln!(
                "uml_moo: unknown option {s} (a file name starting with '-' can be given as ./{s})"
            );
            return usage();
        }
    }
    let slow = uml_cow::ops::test_step_delay();
    let mut progress = |_: u64, _: u64| {
        if let Some(d) = slow {
            std::thread::sleep(d);
        }
    };
    let result = match (destructive, &files[..]) {
        (true, [cow]) => commit(
            cow,
            &CommitOptions {
                backing,
                reset: false,
                durable,
            },
            &mut progress,
        ),
        (false, [cow, out]) => merge(
            cow,
            out,
            &MergeOptions {
                backing,
                replace: true,
                durable,
            },
            &mut progress,
        ),
        _ => return usage(),
    };
    match result {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("{}", e.report("uml_moo"));
            1
        }
    }
}
