//! `umlcow`: inspect, check, create, merge, commit, rebase and convert UML copy-on-write files.
//! Run `umlcow help` for the subcommands; `umlcow check --help` lists its exit codes.

#![forbid(unsafe_code)]

mod commit;
mod info;
mod progress;

use clap::{Args, Parser, Subcommand};
use commit::{commit, CommitFlags};
use info::{check, info};
use progress::Bar;
use std::path::PathBuf;
use std::process::ExitCode;
use uml_cow::ops;
use uml_cow::{CreateOptions, MergeOptions, MtimePolicy};

#[derive(Parser)]
#[command(
    name = "umlcow",
    version,
    long_version = concat!(env!("CARGO_PKG_VERSION"), " (vde-rs)\nno stock counterpart: uml_mkcow and uml_moo of uml-utilities 20070815 do part of it"),
    about = "Inspect, check, create, merge, commit, rebase and convert UML copy-on-write (COW) files"
)]
struct Cli {
    /// No progress bar and no summary lines (errors are still printed).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct BackingArg {
    /// Use this backing file instead of the path recorded in the COW file.
    #[arg(short, long, value_name = "BACKING")]
    backing: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Show the header, geometry, dirty sectors, backing file state, validity and locks.
    Info {
        cow: PathBuf,
        #[command(flatten)]
        backing: BackingArg,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a COW file strictly; the exit code says what is wrong.
    #[command(after_help = "Exit codes:
  0  valid (warnings may be printed)
  1  the COW file cannot be opened or read
  2  usage error
  3  not a COW file (wrong magic, or too short)
  4  damaged or unsupported header
  5  damaged layout (bitmap cut short)
  6  backing file missing or not a disk image
  7  size mismatch between the header and the backing file
  8  mtime mismatch between the header and the backing file
  9  in use: a running UML guest (or another tool) holds a lock
 10  only warnings, with --strict")]
    Check {
        cow: PathBuf,
        #[command(flatten)]
        backing: BackingArg,
        /// Treat warnings (legacy layout, tiny disk, short file, stray bits) as failures.
        #[arg(long)]
        strict: bool,
    },
    /// Create an empty COW file over BACKING (never overwrites without --force).
    Create {
        cow: PathBuf,
        backing: PathBuf,
        /// Replace an existing COW file with an empty one (its changes are lost).
        #[arg(short, long)]
        force: bool,
    },
    /// Write the disk the guest sees (backing + COW) to a new image OUT.
    Merge {
        cow: PathBuf,
        out: PathBuf,
        #[command(flatten)]
        backing: BackingArg,
        /// Replace OUT if it exists.
        #[arg(short, long)]
        force: bool,
        /// Do not flush OUT to disk before naming it (faster; after a power failure OUT may
        /// be incomplete, a killed merge still never leaves a partial OUT).
        #[arg(long)]
        no_sync: bool,
    },
    /// Write the COW's changes into the backing file itself (like `uml_moo -d`).
    Commit {
        cow: PathBuf,
        #[command(flatten)]
        backing: BackingArg,
        /// Also look for other COW files on the same backing file here (default: the
        /// directories of the COW file and of the backing file).
        #[arg(long, value_name = "DIR")]
        search: Vec<PathBuf>,
        /// Commit even though other COW files use the backing file (they stop working).
        #[arg(short, long)]
        force: bool,
        /// Afterwards, replace the COW file with an empty one valid for the new backing file.
        #[arg(long)]
        reset: bool,
        /// Only say what would be done.
        #[arg(short = 'n', long)]
        dry_run: bool,
        /// Do not wait for the backing file to reach the disk (faster; a power failure soon
        /// after may lose part of the commit).
        #[arg(long)]
        no_sync: bool,
    },
    /// Point a COW file at a moved or copied backing file (default: the recorded path).
    Rebase {
        cow: PathBuf,
        new_backing: Option<PathBuf>,
        /// If the mtimes differ: record the backing file's current mtime in the COW file.
        #[arg(long, conflicts_with = "restore_mtime")]
        adopt_mtime: bool,
        /// If the mtimes differ: set the backing file's mtime back to the recorded one.
        #[arg(long)]
        restore_mtime: bool,
    },
    /// Rewrite a v1, v2 or broken-v3 COW file as canonical v3.
    Convert {
        cow: PathBuf,
        /// Write the converted file here instead of replacing COW.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Replace OUTPUT if it exists.
        #[arg(short, long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    uml_cow::sys::file_size_limit_as_error();
    clidoc::serve_if_asked(<Cli as clap::CommandFactory>::command);
    let cli = Cli::parse();
    let quiet = cli.quiet;
    let r = match cli.command {
        Command::Info { cow, backing, json } => info(&cow, backing.backing.as_deref(), json),
        Command::Check {
            cow,
            backing,
            strict,
        } => return check(&cow, backing.backing.as_deref(), strict, quiet),
        Command::Create {
            cow,
            backing,
            force,
        } => ops::create(&cow, &backing, &CreateOptions { replace: force }).map(|h| {
            say(
                quiet,
                format!(
                    "created {} over {} ({} bytes)",
                    cow.display(),
                    String::from_utf8_lossy(&h.backing_file),
                    h.size
                ),
            )
        }),
        Command::Merge {
            cow,
            out,
            backing,
            force,
            no_sync,
        } => {
            let mut bar = Bar::new(quiet, "merging");
            let r = ops::merge(
                &cow,
                &out,
                &MergeOptions {
                    backing: backing.backing,
                    replace: force,
                    durable: !no_sync,
                },
                &mut |d, t| bar.tick(d, t),
            );
            bar.finish();
            r.map(|rep| {
                say(
                    quiet,
                    format!(
                        "wrote {} ({} bytes, {} dirty sectors from {})",
                        out.display(),
                        rep.size,
                        rep.dirty_sectors,
                        cow.display()
                    ),
                )
            })
        }
        Command::Commit {
            cow,
            backing,
            search,
            force,
            reset,
            dry_run,
            no_sync,
        } => commit(
            &cow,
            backing.backing,
            search,
            CommitFlags {
                force,
                reset,
                dry_run,
                durable: !no_sync,
            },
            quiet,
        ),
        Command::Rebase {
            cow,
            new_backing,
            adopt_mtime,
            restore_mtime,
        } => {
            let policy = if adopt_mtime {
                MtimePolicy::Adopt
            } else if restore_mtime {
                MtimePolicy::Restore
            } else {
                MtimePolicy::Require
            };
            ops::rebase(&cow, new_backing.as_deref(), policy).map(|rep| {
                if !rep.changed() && !rep.restored_mtime {
                    say(quiet, format!("{}: nothing to change", cow.display()));
                    return;
                }
                if rep.old.backing_file != rep.new.backing_file {
                    say(
                        quiet,
                        format!(
                            "{}: backing file {} -> {}",
                            cow.display(),
                            String::from_utf8_lossy(&rep.old.backing_file),
                            String::from_utf8_lossy(&rep.new.backing_file)
                        ),
                    );
                }
                if rep.old.mtime != rep.new.mtime {
                    say(
                        quiet,
                        format!(
                            "{}: recorded mtime {} -> {}",
                            cow.display(),
                            rep.old.mtime,
                            rep.new.mtime
                        ),
                    );
                }
                if rep.restored_mtime {
                    say(
                        quiet,
                        format!(
                            "{}: mtime set back to {}",
                            String::from_utf8_lossy(&rep.new.backing_file),
                            rep.new.mtime
                        ),
                    );
                }
            })
        }
        Command::Convert { cow, output, force } => {
            let mut bar = Bar::new(quiet, "converting");
            let r = ops::convert(&cow, output.as_deref(), force, &mut |d, t| bar.tick(d, t));
            bar.finish();
            r.map(|rep| {
                let dest = output.as_deref().unwrap_or(&cow);
                if rep.converted {
                    say(
                        quiet,
                        format!(
                            "{}: {} -> canonical v3 in {}",
                            cow.display(),
                            rep.old.version,
                            dest.display()
                        ),
                    )
                } else {
                    say(
                        quiet,
                        format!("{}: already canonical v3, left alone", cow.display()),
                    )
                }
            })
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", e.report("umlcow"));
            ExitCode::FAILURE
        }
    }
}

/// Prints a summary line, unless `--quiet`.
fn say(quiet: bool, msg: String) {
    if !quiet {
        println!("{msg}");
    }
}
