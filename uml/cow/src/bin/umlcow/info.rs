//! `umlcow info` and `umlcow check`: what the library's inspection found, as text, as JSON, or
//! as an exit code.

use crate::say;
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;
use uml_cow::{Class, CowError, LockHolder};

fn lock_json(l: &Option<LockHolder>) -> Value {
    match l {
        None => Value::Null,
        Some(h) => json!({"kind": h.kind.name(), "pid": h.pid, "description": h.to_string()}),
    }
}

pub fn info(cow_path: &Path, backing: Option<&Path>, as_json: bool) -> Result<(), CowError> {
    let i = uml_cow::inspect(cow_path, backing)?;
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

pub fn check(cow_path: &Path, backing: Option<&Path>, strict: bool, quiet: bool) -> ExitCode {
    let i = match uml_cow::inspect(cow_path, backing) {
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
    if let Some(e) = i.cow_in_use() {
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
