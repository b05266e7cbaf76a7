//! `uml_mkcow [-f] COW BACKING`: a drop-in for the uml-utilities tool. Creates an empty v3 COW
//! file over BACKING, byte for byte what the stock tool and the kernel write (zero-filled path
//! field, alignment 4096). Unlike the stock tool it accepts `-f` anywhere, never leaves a 0-byte
//! or half-written file behind, and with `-f` replaces the old COW file instead of keeping its
//! stale bitmap and data. Exit status: 0 done, 1 refused or failed, 2 usage.

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::PathBuf;
use uml_cow::{create, CreateOptions};

const USAGE: &str = "uml_mkcow usage: \n\tuml_mkcow [-f] <COW file> <backing file>\n\t-f forces overwrite of an existing COW file\n";

fn main() {
    uml_cow::sys::file_size_limit_as_error();
    std::process::exit(run(std::env::args_os().skip(1).collect()));
}

fn run(args: Vec<OsString>) -> i32 {
    let mut force = false;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut options_done = false;
    for a in args {
        let s = a.to_string_lossy();
        if options_done || s == "-" || !s.starts_with('-') {
            files.push(a.into());
        } else if s == "--" {
            options_done = true;
        } else if s == "-f" {
            force = true;
        } else if s == "-h" || s == "--help" {
            print!("{USAGE}");
            return 0;
        } else if s == "--version" {
            println!(
                "uml_mkcow {} (vde-rs)\nreplaces uml_mkcow of uml-utilities 20070815",
                env!("CARGO_PKG_VERSION")
            );
            return 0;
        } else {
            eprintln!("uml_mkcow: unknown option {s} (a file name starting with '-' can be given as ./{s})");
            eprint!("{USAGE}");
            return 2;
        }
    }
    let [cow, backing] = &files[..] else {
        eprint!("{USAGE}");
        return 2;
    };
    for p in [cow, backing] {
        let s = p.to_string_lossy();
        if s.contains(',') || s.contains(':') {
            eprintln!(
                "uml_mkcow: warning: {s} contains ',' or ':', which the UML kernel's ubd= option \
                 cannot take; reach it through a symlink without them"
            );
        }
    }
    match create(cow, backing, &CreateOptions { replace: force }) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("{}", e.report("uml_mkcow"));
            1
        }
    }
}
