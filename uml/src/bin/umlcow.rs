//! `umlcow`: inspect, check, create, merge, commit, rebase and convert UML copy-on-write files.
//! Run `umlcow help` for the subcommands; `umlcow check --help` lists its exit codes.

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use uml::cow::io::DataMap;
use uml::cow::ops::{self, TINY_DISK};
use uml::cow::{
    BackingInfo, Bitmap, Class, CommitOptions, CowError, CowFile, CreateOptions, LockHolder,
    LockKind, MergeOptions, MtimePolicy, Version,
};

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

fn say(quiet: bool, msg: String) {
    if !quiet {
        println!("{msg}");
    }
}

/// A progress bar that shows up only when the work takes more than a second, and only on a
/// terminal.
struct Bar {
    quiet: bool,
    label: &'static str,
    start: Instant,
    bar: Option<ProgressBar>,
    slow: Option<Duration>,
}

impl Bar {
    fn new(quiet: bool, label: &'static str) -> Bar {
        Bar {
            quiet,
            label,
            start: Instant::now(),
            bar: None,
            slow: ops::test_step_delay(),
        }
    }
    fn tick(&mut self, done: u64, total: u64) {
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
    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// The switches of `umlcow commit`.
struct CommitFlags {
    force: bool,
    reset: bool,
    dry_run: bool,
    durable: bool,
}

fn commit(
    cow_path: &Path,
    backing: Option<PathBuf>,
    search: Vec<PathBuf>,
    flags: CommitFlags,
    quiet: bool,
) -> Result<(), CowError> {
    let CommitFlags {
        force,
        reset,
        dry_run,
        durable,
    } = flags;
    // Look before touching anything: the same checks the commit makes, then the siblings.
    let cow = CowFile::open(cow_path, false)?;
    let bitmap = cow.read_bitmap()?;
    let info = cow.inspect_backing(backing.as_deref())?;
    info.validate(cow_path, &cow.header)?;
    let mut dirs = search;
    search_default(&mut dirs, cow_path, &info.path);
    let siblings = ops::find_siblings(&info, cow_path, &dirs);
    let dirty = bitmap.dirty_count();
    if dry_run || !siblings.is_empty() {
        let list: Vec<String> = siblings
            .iter()
            .map(|s| format!("  {}", s.path.display()))
            .collect();
        if !siblings.is_empty() {
            eprintln!(
                "umlcow: {} other COW file(s) use {}; committing changes its content and mtime, \
                 so they stop working:\n{}",
                siblings.len(),
                info.path.display(),
                list.join("\n")
            );
        }
        if dry_run {
            println!(
                "would write {dirty} dirty sectors of {} into {}{}",
                cow_path.display(),
                info.path.display(),
                if reset {
                    ", then reset the COW file"
                } else {
                    ""
                }
            );
            return Ok(());
        }
        if !force {
            return Err(CowError::refused(
                &info.path,
                format!(
                    "is the backing file of {} other COW file(s) (listed above)",
                    siblings.len()
                ),
                format!(
                    "pass --force to commit anyway (those COW files become unusable), or write \
                     a new image instead with `umlcow merge {} NEW.img`",
                    cow_path.display()
                ),
            ));
        }
    }
    drop(cow);
    let mut bar = Bar::new(quiet, "committing");
    let r = ops::commit(
        cow_path,
        &CommitOptions {
            backing,
            reset,
            durable,
        },
        &mut |d, t| bar.tick(d, t),
    );
    bar.finish();
    let rep = r?;
    if !rep.backing_changed {
        say(
            quiet,
            format!(
                "{} has no dirty sectors; {} left unchanged",
                cow_path.display(),
                info.path.display()
            ),
        );
    } else if reset {
        say(
            quiet,
            format!(
                "wrote {} dirty sectors into {}; {} is now empty and valid for it",
                rep.dirty_sectors,
                info.path.display(),
                cow_path.display()
            ),
        );
    } else {
        say(
            quiet,
            format!(
                "wrote {} dirty sectors into {}; its mtime changed, so {} no longer matches it \
                 (use --reset next time, or `umlcow create --force {} {}` for a fresh one)",
                rep.dirty_sectors,
                info.path.display(),
                cow_path.display(),
                cow_path.display(),
                info.path.display()
            ),
        );
    }
    Ok(())
}

/// Adds the directories of the COW file and of the backing file to `dirs` if none were given.
fn search_default(dirs: &mut Vec<PathBuf>, cow: &Path, backing: &Path) {
    if !dirs.is_empty() {
        return;
    }
    for p in [cow, backing] {
        dirs.push(match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        });
    }
}

/// Everything `info` and `check` look at.
struct Inspection {
    cow: CowFile,
    bitmap: Result<Bitmap, CowError>,
    allocated: u64,
    dirty_bytes: u64,
    dirty_runs: u64,
    dirty_hole_bytes: u64,
    backing: Result<BackingInfo, CowError>,
    validity: Result<(), CowError>,
    cow_lock: Option<LockHolder>,
    backing_lock: Option<LockHolder>,
    warnings: Vec<String>,
}

fn inspect(cow_path: &Path, backing: Option<&Path>) -> Result<Inspection, CowError> {
    use std::os::unix::fs::MetadataExt;
    let cow = CowFile::open(cow_path, false)?;
    let h = &cow.header;
    let g = cow.geometry;
    let allocated = cow.file.metadata().map(|m| m.blocks() * 512).unwrap_or(0);
    let bitmap = cow.read_bitmap();
    let (mut dirty_bytes, mut dirty_runs, mut dirty_hole_bytes) = (0, 0, 0);
    let mut warnings = Vec::new();
    if let Ok(b) = &bitmap {
        let mut map = DataMap::eager(&cow.file, cow.len).ok();
        for r in b.dirty_runs() {
            let a = r.start * g.sector_size;
            let e = (r.end() * g.sector_size).min(g.size);
            dirty_runs += 1;
            dirty_bytes += e - a;
            if let Some(m) = &mut map {
                let mut data = 0;
                let _ = m.data_in(g.data_offset + a, g.data_offset + e, |s, t| {
                    data += t - s;
                    Ok(())
                });
                dirty_hole_bytes += (e - a) - data;
            }
        }
        if b.stray_bits() > 0 {
            warnings.push(format!(
                "{} bit(s) set past the last sector (ignored)",
                b.stray_bits()
            ));
        }
    }
    match h.version {
        Version::V1 | Version::V2 | Version::V3Broken => warnings.push(format!(
            "{} layout: never let the kernel rebase it (it would corrupt it); convert it with \
             `umlcow convert {}`",
            h.version,
            cow_path.display()
        )),
        Version::V3 => {}
    }
    if matches!(h.version, Version::V1 | Version::V2) && g.sectors % 8 != 0 {
        warnings.push(format!(
            "the {} bitmap is one byte short (historical rounding); the last {} sector(s) have \
             no bit of their own",
            h.version,
            g.sectors % 8
        ));
    }
    if !h.alignment.is_power_of_two() || h.alignment < 512 {
        warnings.push(format!(
            "alignment {} is not a power of two of at least 512",
            h.alignment
        ));
    }
    if h.cow_format != 0 {
        warnings.push(format!(
            "cow_format is {} (only 0, the bitmap format, is defined; the kernel ignores it)",
            h.cow_format
        ));
    }
    if !h.backing_file.starts_with(b"/") {
        warnings.push("the backing path is not absolute".into());
    }
    if cow.len < g.full_len() {
        warnings.push(format!(
            "the file is {} bytes, shorter than the {} its geometry implies (reads as zeros)",
            cow.len,
            g.full_len()
        ));
    }
    if h.size <= TINY_DISK {
        warnings.push(format!(
            "a disk of {} bytes (32 KiB or less) hangs UML on its first write",
            h.size
        ));
    }
    let info = cow.inspect_backing(backing);
    let validity = match &info {
        Ok(i) => i.validate(cow_path, h),
        Err(_) => Ok(()),
    };
    let cow_lock = cow.lock_holder(LockKind::Write).ok().flatten();
    let backing_lock = info.as_ref().ok().and_then(|i| {
        std::fs::File::open(&i.path).ok().and_then(|f| {
            uml::cow::sys::probe_lock(&f, LockKind::Write)
                .ok()
                .flatten()
        })
    });
    Ok(Inspection {
        cow,
        bitmap,
        allocated,
        dirty_bytes,
        dirty_runs,
        dirty_hole_bytes,
        backing: info,
        validity,
        cow_lock,
        backing_lock,
        warnings,
    })
}

impl Inspection {
    /// The first problem, in the order the kernel would hit them.
    fn problem(&self) -> Option<&CowError> {
        if let Err(e) = &self.bitmap {
            return Some(e);
        }
        if let Err(e) = &self.backing {
            return Some(e);
        }
        self.validity.as_ref().err()
    }
}

fn lock_json(l: &Option<LockHolder>) -> Value {
    match l {
        None => Value::Null,
        Some(h) => json!({"kind": h.kind.name(), "pid": h.pid, "description": h.to_string()}),
    }
}

fn info(cow_path: &Path, backing: Option<&Path>, as_json: bool) -> Result<(), CowError> {
    let i = inspect(cow_path, backing)?;
    let h = &i.cow.header;
    let g = &i.cow.geometry;
    let dirty = i.bitmap.as_ref().map(|b| b.dirty_count()).ok();
    let problem = i.problem();
    if as_json {
        let backing_json = match &i.backing {
            Ok(b) => json!({
                "path": b.path.to_string_lossy(),
                "exists": true,
                "size": b.size,
                "mtime": b.mtime,
                "block_device": b.is_block_device,
            }),
            Err(e) => json!({
                "path": i.cow.backing_path().to_string_lossy(),
                "exists": false,
                "error": e.to_string(),
            }),
        };
        let v = json!({
            "path": cow_path.to_string_lossy(),
            "version": h.version.number(),
            "layout": h.version.key(),
            "canonical": h.is_canonical(),
            "byte_order": h.byte_order.name(),
            "backing_file": String::from_utf8_lossy(&h.backing_file),
            "mtime": h.mtime,
            "size": h.size,
            "sector_size": h.sector_size,
            "alignment": h.alignment,
            "cow_format": h.cow_format,
            "geometry": {
                "header_len": g.header_len,
                "bitmap_offset": g.bitmap_offset,
                "bitmap_len": g.bitmap_len,
                "data_offset": g.data_offset,
                "sectors": g.sectors,
            },
            "file_length": i.cow.len,
            "allocated_bytes": i.allocated,
            "dirty": {
                "sectors": dirty,
                "bytes": i.dirty_bytes,
                "runs": i.dirty_runs,
                "hole_bytes": i.dirty_hole_bytes,
            },
            "backing": backing_json,
            "valid": problem.is_none(),
            "problem": problem.map(|e| e.to_string()),
            "fix": problem.map(|e| e.hint()),
            "locks": {
                "cow": lock_json(&i.cow_lock),
                "backing": lock_json(&i.backing_lock),
            },
            "warnings": i.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    println!("file:          {}", cow_path.display());
    println!(
        "format:        COW {}{}, {} fields",
        h.version,
        if h.is_canonical() { " (canonical)" } else { "" },
        h.byte_order.name()
    );
    println!(
        "backing file:  {}",
        String::from_utf8_lossy(&h.backing_file)
    );
    println!(
        "size:          {} bytes ({} sectors of {})",
        h.size, g.sectors, h.sector_size
    );
    println!("mtime:         {} ({})", h.mtime, utc(h.mtime as i64));
    println!(
        "layout:        alignment {}, bitmap at {} ({} bytes), data at {}",
        h.alignment, g.bitmap_offset, g.bitmap_len, g.data_offset
    );
    println!(
        "file:          {} bytes long, {} bytes allocated",
        i.cow.len, i.allocated
    );
    match (&i.bitmap, dirty) {
        (Ok(_), Some(d)) => println!(
            "dirty:         {d} sectors, {} bytes, in {} runs{}",
            i.dirty_bytes,
            i.dirty_runs,
            if i.dirty_hole_bytes > 0 {
                format!(" ({} bytes of them are holes: zeros)", i.dirty_hole_bytes)
            } else {
                String::new()
            }
        ),
        (Err(e), _) => println!("dirty:         unknown ({e})"),
        _ => {}
    }
    match &i.backing {
        Ok(b) => println!(
            "backing now:   {} bytes, mtime {} ({})",
            b.size,
            b.mtime,
            utc(b.mtime)
        ),
        Err(e) => println!("backing now:   {e}"),
    }
    match problem {
        None => println!("valid:         yes"),
        Some(e) => {
            println!("valid:         no: {e}");
            println!("fix:           {}", e.hint());
        }
    }
    let lock_line = |l: &Option<LockHolder>| match l {
        None => "none".to_string(),
        Some(h) => h.to_string(),
    };
    println!("lock on COW:   {}", lock_line(&i.cow_lock));
    println!("lock on backing: {}", lock_line(&i.backing_lock));
    for w in &i.warnings {
        println!("warning:       {w}");
    }
    Ok(())
}

fn class_code(c: Class) -> u8 {
    match c {
        Class::Io => 1,
        Class::NotCow => 3,
        Class::Header => 4,
        Class::Layout => 5,
        Class::Backing => 6,
        Class::Size => 7,
        Class::Mtime => 8,
        Class::Locked => 9,
    }
}

fn check(cow_path: &Path, backing: Option<&Path>, strict: bool, quiet: bool) -> ExitCode {
    let i = match inspect(cow_path, backing) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{}", e.report("umlcow"));
            return ExitCode::from(class_code(e.class()));
        }
    };
    for w in &i.warnings {
        eprintln!("umlcow: warning: {}: {w}", cow_path.display());
    }
    if let Some(e) = i.problem() {
        eprintln!("{}", e.report("umlcow"));
        return ExitCode::from(class_code(e.class()));
    }
    if let Some(holder) = i.cow_lock {
        let e = CowError::Locked {
            path: cow_path.to_path_buf(),
            role: uml::cow::Role::Cow,
            holder,
        };
        eprintln!("{}", e.report("umlcow"));
        return ExitCode::from(class_code(Class::Locked));
    }
    if strict && !i.warnings.is_empty() {
        return ExitCode::from(10);
    }
    say(quiet, format!("{}: ok", cow_path.display()));
    ExitCode::SUCCESS
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time.
fn utc(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
