//! Benchmark helper: marks a share of a COW file's sectors dirty and gives them data, as a guest
//! writing to its disk would.
//!
//! `cargo run --release -p uml-cow --example cow_dirty -- COW PERCENT [RUN_SECTORS [SEED]]`
//!
//! Dirty sectors come in runs of RUN_SECTORS (default 8, one 4 KiB block) at random places
//! aligned to the run length, until PERCENT of all sectors are dirty.

#![forbid(unsafe_code)]

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use uml_cow::CowFile;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: cow_dirty COW PERCENT [RUN_SECTORS [SEED]]");
        std::process::exit(2);
    }
    let path = std::path::Path::new(&args[0]);
    let percent: f64 = args[1].parse().expect("PERCENT");
    let run: u64 = args.get(2).map_or(8, |s| s.parse().expect("RUN_SECTORS"));
    let mut seed: u64 = args.get(3).map_or(1, |s| s.parse().expect("SEED")) | 1;
    let cow = CowFile::open(path, false).unwrap_or_else(|e| panic!("{e}"));
    let g = cow.geometry;
    let mut bitmap = cow.read_bitmap().unwrap_or_else(|e| panic!("{e}"));
    drop(cow);
    let f = OpenOptions::new().write(true).open(path).unwrap();
    let want = (g.sectors as f64 * percent / 100.0) as u64;
    let slots = g.sectors / run;
    let mut data = vec![0u8; (run * 512) as usize];
    let mut rand = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    while bitmap.dirty_count() < want {
        let start = rand() % slots * run;
        if bitmap.is_dirty(start) {
            continue;
        }
        for chunk in data.chunks_mut(8) {
            chunk.copy_from_slice(&rand().to_le_bytes());
        }
        f.write_all_at(&data, g.data_offset + start * 512).unwrap();
        for s in start..start + run {
            bitmap.set(s);
        }
    }
    f.write_all_at(bitmap.as_bytes(), g.bitmap_offset).unwrap();
    println!(
        "{}: {} of {} sectors dirty ({:.2} %)",
        path.display(),
        bitmap.dirty_count(),
        g.sectors,
        bitmap.dirty_count() as f64 * 100.0 / g.sectors as f64
    );
}
