//! The stock UML kernel with COW files: it boots and writes through a COW file our
//! `uml_mkcow` made, its own COW files merge to the same bytes with our `uml_moo` as with the
//! stock one (normal and `-d`), the results are clean ext4 holding the guest's files, and while
//! the guest holds its disks our tools see its locks and refuse to touch them.
//! Needs the UML kernel and the stock tools (see `integration_tests::needs`).

use integration_tests::cow::*;
use integration_tests::needs;
use std::path::Path;
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(90);

const INIT: &str = r#"#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
for d in b c; do
    mount -t ext4 /dev/ubd$d /mnt1 || { echo "COWTEST-FAIL mount ubd$d"; halt -f; }
    echo "hello from ubd$d" > /mnt1/hello.txt
    mkdir -p /mnt1/dir
    dd if=/dev/urandom of=/mnt1/dir/blob bs=4096 count=300 2>/dev/null
    sha256sum /mnt1/dir/blob > /mnt1/blob.sha256
    umount /mnt1
done
# Hold both disks (the kernel then holds its host locks) until the host says go.
mount -t ext4 /dev/ubdb /mnt1
mount -t ext4 /dev/ubdc /mnt2
mount -t hostfs none /host -o "$COWHOST"
echo COWTEST-HOLDING
i=0
while [ ! -e /host/release ] && [ $i -lt 90 ]; do sleep 1; i=$((i+1)); done
umount /mnt1
umount /mnt2
sync
echo COWTEST-DONE
halt -f
"#;

fn assert_ext4_with_files(image: &Path, disk: &str) {
    let (clean, log) = e2fsck(image);
    assert!(clean, "e2fsck -fn {}:\n{log}", image.display());
    assert_eq!(
        String::from_utf8_lossy(&ext4_cat(image, "/hello.txt")),
        format!("hello from ubd{disk}\n"),
        "{}",
        image.display()
    );
    let blob = ext4_cat(image, "/dir/blob");
    assert_eq!(blob.len(), 300 * 4096, "{}", image.display());
    let sum = String::from_utf8_lossy(&ext4_cat(image, "/blob.sha256")).into_owned();
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&blob)?;
            c.wait_with_output()
        })
        .unwrap();
    let host_sum = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        sum.split_whitespace().next(),
        host_sum.split_whitespace().next(),
        "blob checksum in {}",
        image.display()
    );
}

#[test]
fn cow_files_with_the_stock_kernel() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let Some(stock_moo) = stock("uml_moo") else {
        return;
    };
    let (_t, dir) = scratch();
    let rootfs = busybox_rootfs(&dir, INIT);
    let data_b = dir.join("data-b.ext4");
    let data_c = dir.join("data-c.ext4");
    mkfs_ext4(&data_b, "16M", None);
    mkfs_ext4(&data_c, "16M", None);
    // ubd1: a COW made by our uml_mkcow; ubd2: a COW the kernel creates itself.
    let ours_cow = dir.join("ours.cow");
    let kern_cow = dir.join("kernel.cow");
    let r = run(&ours("uml_mkcow"), &[&ours_cow, &data_b], &dir);
    assert!(r.ok(), "{r:?}");
    let header_before = read(&ours_cow)[..8192].to_vec();
    let hostdir = dir.join("hostdir");
    std::fs::create_dir(&hostdir).unwrap();
    let umid = format!("cowt{}", std::process::id());
    let mut uml = Uml::boot(
        &kernel,
        &dir,
        &umid,
        &rootfs,
        &[
            format!("ubd1={},{}", ours_cow.display(), data_b.display()),
            format!("ubd2={},{}", kern_cow.display(), data_c.display()),
            format!("COWHOST={}", hostdir.display()),
        ],
    );
    assert!(
        uml.wait_for("COWTEST-HOLDING", BOOT),
        "guest did not get to hold its disks\n{}\n{}",
        uml.command_line,
        uml.log()
    );

    // While the guest holds the disks: our tools see the kernel's fcntl locks and refuse.
    let info = run(&ours("umlcow"), &[&"info", &"--json", &ours_cow], &dir);
    assert!(info.ok(), "{info:?}");
    assert!(
        info.stdout.contains("\"pid\"") && !info.stdout.contains("\"cow\": null"),
        "umlcow info does not show the guest's lock:\n{}",
        info.stdout
    );
    let snaps = [Snapshot::take(&data_b), Snapshot::take(&data_c)];
    let out = dir.join("while-running.img");
    let r = run(&ours("uml_moo"), &[&ours_cow, &out], &dir);
    assert_eq!(r.code, 1, "uml_moo on a COW a guest holds: {r:?}");
    assert!(
        r.stderr.contains("in use") && r.stderr.contains("fix:"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    let r = run(&ours("uml_moo"), &[&"-d", &kern_cow], &dir);
    assert_eq!(r.code, 1, "uml_moo -d on a COW a guest holds: {r:?}");
    let r = run(&ours("umlcow"), &[&"commit", &"--force", &kern_cow], &dir);
    assert_eq!(r.code, 1, "umlcow commit on a COW a guest holds: {r:?}");
    let r = run(&ours("umlcow"), &[&"check", &ours_cow], &dir);
    assert_eq!(r.code, 9, "umlcow check on a COW a guest holds: {r:?}");
    for s in &snaps {
        s.assert_unchanged("refused while the guest runs");
    }

    std::fs::write(hostdir.join("release"), b"go").unwrap();
    assert!(
        uml.wait_for("COWTEST-DONE", BOOT),
        "guest did not finish\n{}",
        uml.log()
    );
    let code = uml.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(0), "kernel exit status\n{}", uml.log());
    drop(uml);

    // The kernel kept our header as it was.
    assert_eq!(
        &read(&ours_cow)[..8192 - 4096],
        &header_before[..8192 - 4096]
    );
    let r = run(&ours("umlcow"), &[&"check", &ours_cow], &dir);
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(&ours("umlcow"), &[&"check", &kern_cow], &dir);
    assert_eq!(r.code, 0, "{r:?}");

    for (tag, cow, backing, disk) in [
        ("ours", &ours_cow, &data_b, "b"),
        ("kernel", &kern_cow, &data_c, "c"),
    ] {
        let merged = dir.join(format!("{tag}-merged.img"));
        let r = run(&ours("uml_moo"), &[cow, &merged], &dir);
        assert!(r.ok(), "{r:?}");
        assert_ext4_with_files(&merged, disk);
        // -d into a copy of the backing file.
        let committed = dir.join(format!("{tag}-d.img"));
        copy_p(backing, &committed);
        let r = run(&ours("uml_moo"), &[&"-d", &"-b", &committed, cow], &dir);
        assert!(r.ok(), "{r:?}");
        assert_same_bytes(&merged, &committed);
        let s = dir.join(format!("{tag}-stock.img"));
        let r = run(&stock_moo, &[cow, &s], &dir);
        assert!(r.ok(), "stock uml_moo: {r:?}");
        assert_same_bytes(&s, &merged);
        let sd = dir.join(format!("{tag}-stock-d.img"));
        copy_p(backing, &sd);
        let r = run(&stock_moo, &[&"-d", &"-b", &sd, cow], &dir);
        assert!(r.ok(), "stock uml_moo -d: {r:?}");
        assert_same_bytes(&sd, &committed);
    }
}
