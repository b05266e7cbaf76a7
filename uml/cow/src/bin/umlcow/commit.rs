//! `umlcow commit`: the look before the commit (other COW files, `--dry-run`), the commit, and
//! what it did.

use crate::progress::Bar;
use crate::say;
use std::path::{Path, PathBuf};
use uml_cow::ops;
use uml_cow::{CommitOptions, CommitPreview, CowError};

/// The switches of `umlcow commit`.
pub struct CommitFlags {
    pub force: bool,
    pub reset: bool,
    pub dry_run: bool,
    pub durable: bool,
}

pub fn commit(
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
    let CommitPreview {
        backing: info,
        dirty_sectors: dirty,
        siblings,
    } = ops::preview_commit(cow_path, backing.as_deref(), &search)?;
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
