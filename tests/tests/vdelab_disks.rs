//! The disk exercises as labs, run by `vdelab` with the stock UML kernel: `examples/two-disks`
//! (an extra empty disk made at the first `up`, written in the guest, read back on the host and
//! still there at the next `up`), and `examples/backup` (`save` archives the lab's COW files and
//! disks with their holes, `restore` brings back the same bytes, and the guest sees its old
//! files again). Skipped, with a message, without a UML kernel.

use integration_tests::cow::{e2fsck, ext4_cat};
use integration_tests::needs;
use integration_tests::vdelab::{Lab, UP};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[test]
fn two_disks() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let lab = Lab::example("two-disks");
    lab.up(&kernel);
    let (code, out) = lab.shell(
        &kernel,
        "h1",
        "echo written-in-the-guest > /mnt/data/note.txt && grep -c ubdb /proc/mounts",
    );
    assert_eq!((code, out.as_str()), (0, "1"), "the second disk is mounted");
    lab.down(&kernel);
    let disk = lab.dir.join(".vdelab/disks/h1-data.ext4");
    assert_eq!(ext4_cat(&disk, "/note.txt"), b"written-in-the-guest\n");
    let (clean, report) = e2fsck(&disk);
    assert!(clean, "the clean stop left the file system clean: {report}");
    // The next boot finds it again (the disk is not made anew).
    lab.up(&kernel);
    let (code, out) = lab.shell(&kernel, "h1", "cat /mnt/data/note.txt");
    assert_eq!((code, out.as_str()), (0, "written-in-the-guest"));
    lab.down(&kernel);
    assert_eq!(lab.leftovers(), Vec::<String>::new());
}

/// Bytes on disk (allocated blocks) of a file.
fn allocated(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().blocks() * 512
}

#[test]
fn backup_save_and_restore() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let lab = Lab::example("backup");
    lab.up(&kernel);
    let (code, _) = lab.shell(
        &kernel,
        "h1",
        "echo version-1 > /root/notes.txt && echo data-1 > /mnt/data/d.txt",
    );
    assert_eq!(code, 0);
    // No save while the disks are in use.
    let busy = lab.run(&kernel, &["save", "b1"], UP);
    assert_eq!(busy.status.and_then(|s| s.code()), Some(1));
    assert!(busy.stderr.contains("vdelab down"), "{}", busy.stderr);
    lab.down(&kernel);

    let disks = lab.dir.join(".vdelab/disks");
    let files = ["h1-data.ext4", "h1.cow"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(disks.join(f)).unwrap())
        .collect();
    let blocks_before: Vec<u64> = files.iter().map(|f| allocated(&disks.join(f))).collect();
    let saved = lab.run(&kernel, &["save", "b1"], UP);
    assert_eq!(
        saved.status.and_then(|s| s.code()),
        Some(0),
        "{}",
        lab.explain(&saved)
    );
    let archive = lab.dir.join(".vdelab/saves/b1.tar");
    let apparent: u64 = before.iter().map(|b| b.len() as u64).sum();
    assert!(
        allocated(&archive) * 4 < apparent,
        "the archive keeps the holes: {} bytes on disk for {apparent} bytes of files",
        allocated(&archive)
    );

    // Change everything, then go back.
    lab.up(&kernel);
    let (code, _) = lab.shell(
        &kernel,
        "h1",
        "echo version-2 > /root/notes.txt && rm /mnt/data/d.txt",
    );
    assert_eq!(code, 0);
    lab.down(&kernel);
    assert_ne!(std::fs::read(disks.join("h1.cow")).unwrap(), before[1]);
    let restored = lab.run(&kernel, &["restore", "b1"], UP);
    assert_eq!(
        restored.status.and_then(|s| s.code()),
        Some(0),
        "{}",
        lab.explain(&restored)
    );
    for (i, f) in files.iter().enumerate() {
        let p = disks.join(f);
        assert!(
            std::fs::read(&p).unwrap() == before[i],
            "{f}: not the same bytes"
        );
        // Sparse again: no more blocks than the original (plus some slack for metadata).
        assert!(
            allocated(&p) <= blocks_before[i] + (64 << 10),
            "{f}: {} bytes on disk, {} before",
            allocated(&p),
            blocks_before[i]
        );
    }
    lab.up(&kernel);
    let (code, out) = lab.shell(&kernel, "h1", "cat /root/notes.txt /mnt/data/d.txt");
    assert_eq!((code, out.as_str()), (0, "version-1\ndata-1"));
    lab.down(&kernel);
    assert_eq!(lab.leftovers(), Vec::<String>::new());
    // `clean` removes the disks but keeps the saves.
    let clean = lab.run(&kernel, &["clean"], UP);
    assert_eq!(
        clean.status.and_then(|s| s.code()),
        Some(0),
        "{}",
        lab.explain(&clean)
    );
    assert!(!disks.exists());
    assert!(archive.exists());
}
