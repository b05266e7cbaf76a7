//! The default root file system of lab guests: the host's static busybox and a boot script that
//! does what Netkit's did, in an ext4 image made without root privileges (`mkfs.ext4 -d`) and
//! without downloads.
//!
//! At boot, busybox `init` runs [`RC`] once, then keeps a shell on the console. [`RC`] mounts the
//! lab directory on `/hostlab` (hostfs), copies `/hostlab/HOST/` over `/`, runs
//! `shared.startup` and `HOST.startup` (their output goes to `.vdelab/log/HOST.startup.log` and
//! then to the console), and finally writes the startup status to `.vdelab/ready/HOST`, which
//! tells `vdelab up` the guest has booted. After the boot messages, kernel messages go to `dmesg`
//! only, not into the shell's output on the console. An image of your own (`HOST[image]`) must do the
//! same for `up` to see its boot end.

use crate::error::{LabError, Result};
use crate::tools;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Size of the image (sparse: the file takes what busybox takes).
pub const DEFAULT_SIZE: &str = "64M";

/// The boot script.
pub const RC: &str = r#"#!/bin/sh
# vdelab's boot script: mounts the lab on /hostlab, copies /hostlab/HOST/ in, runs the startup
# files and tells vdelab the boot is done. VDELAB_HOST comes from the kernel command line.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
host=${VDELAB_HOST:-guest}
hostname "$host"
# Kernel messages go to dmesg, not to the shell on the console (but for emergencies).
dmesg -n 1
ip link set lo up
if ! mount -t hostfs none /hostlab; then
    echo "vdelab: cannot mount the lab directory on /hostlab (hostfs)"
    exit 1
fi
[ -d "/hostlab/$host" ] && cp -a "/hostlab/$host/." /
mkdir -p /hostlab/.vdelab/log /hostlab/.vdelab/ready
log="/hostlab/.vdelab/log/$host.startup.log"
: > "$log"
status=0
for f in shared "$host"; do
    [ -f "/hostlab/$f.startup" ] || continue
    echo "vdelab: running $f.startup" >> "$log"
    # Not through a pipe: programs the startup file leaves in the background would keep it open.
    sh "/hostlab/$f.startup" </dev/null >> "$log" 2>&1 || status=$?
done
cat "$log"
echo "vdelab: $host is up (startup status $status)"
echo "$status" > "/hostlab/.vdelab/ready/.$host" && mv "/hostlab/.vdelab/ready/.$host" "/hostlab/.vdelab/ready/$host"
"#;

const INITTAB: &str = "\
::sysinit:/etc/vdelab/rc
::respawn:/bin/cttyhack /bin/sh -l
::shutdown:/bin/umount -a -r
";

const PROFILE: &str = r#"export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PS1='\h:\w\$ '
"#;

const DIRS: &[&str] = &[
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "etc/vdelab",
    "proc",
    "sys",
    "dev",
    "tmp",
    "root",
    "mnt",
    "hostlab",
    "run",
    "var/run",
    "var/log",
];

/// `$XDG_DATA_HOME/vdelab/rootfs.ext4`, else `~/.local/share/vdelab/rootfs.ext4`.
pub fn default_path() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/"))
                .join(".local/share")
        });
    data.join("vdelab").join("rootfs.ext4")
}

/// The host's static busybox.
pub fn find_busybox() -> Result<PathBuf> {
    let bb = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            LabError::failed(
                "busybox not found",
                "install the Debian package busybox-static",
            )
        })?;
    let bytes = std::fs::read(&bb).map_err(|e| LabError::io(&bb, "read", e))?;
    if has_interpreter(&bytes) {
        return Err(LabError::failed(
            format!(
                "{} is linked dynamically; the guest has no libraries",
                bb.display()
            ),
            "install the Debian package busybox-static",
        ));
    }
    Ok(bb)
}

/// True if `elf` (64-bit, little-endian) asks for a program interpreter, i.e. is dynamic.
fn has_interpreter(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 || elf[5] != 1 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let o = phoff.saturating_add(i * size);
        elf.get(o..o + 4)
            .is_some_and(|t| u32::from_le_bytes(t.try_into().unwrap()) == PT_INTERP)
    })
}

/// Makes the image at `output` unless it exists (`force`: makes it anew). Two labs starting at
/// once make it once: the second waits for the first (a lock on the image's directory).
/// True if it was made.
pub fn ensure(output: &Path, size: &str, force: bool) -> Result<bool> {
    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| LabError::io(parent, "create", e))?;
    let _lock = crate::lock::wait_dir(parent)?;
    if output.is_file() && !force {
        return Ok(false);
    }
    build(output, size)?;
    Ok(true)
}

/// Builds the image at `output` (made next to it, then renamed: never half-written).
pub fn build(output: &Path, size: &str) -> Result<()> {
    let busybox = find_busybox()?;
    let mkfs = tools::system("mkfs.ext4", "e2fsprogs")?;
    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| LabError::io(parent, "create", e))?;
    let tree = tempfile::Builder::new()
        .prefix(".vdelab-rootfs-")
        .tempdir_in(parent)
        .map_err(|e| LabError::io(parent, "make a temporary directory in", e))?;
    let root = tree.path().join("root");
    fill(&root, &busybox)?;
    let image = tree.path().join("rootfs.ext4");
    tools::run(
        Command::new(mkfs)
            .args(["-q", "-L", "vdelab-root", "-d"])
            .arg(&root)
            .arg(&image)
            .arg(size),
        "make the root file system",
    )?;
    std::fs::rename(&image, output).map_err(|e| LabError::io(output, "write", e))
}

fn io<'a>(p: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> LabError + 'a {
    move |e| LabError::io(p, op, e)
}

/// The file tree of the image.
fn fill(root: &Path, busybox: &Path) -> Result<()> {
    for d in DIRS {
        let p = root.join(d);
        std::fs::create_dir_all(&p).map_err(io(&p, "create"))?;
    }
    let bb = root.join("bin/busybox");
    std::fs::copy(busybox, &bb).map_err(io(&bb, "copy busybox to"))?;
    let out = Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(io(busybox, "run"))?;
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let applet = applet.trim().trim_start_matches('/');
        if applet.is_empty() || applet.contains("..") || applet == "bin/busybox" {
            continue;
        }
        let link = root.join(applet);
        if let Some(dir) = link.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir, "create"))?;
        }
        if !link.exists() {
            symlink("/bin/busybox", &link).map_err(io(&link, "create"))?;
        }
    }
    let files: [(&str, &str, u32); 7] = [
        ("etc/vdelab/rc", RC, 0o755),
        ("etc/inittab", INITTAB, 0o644),
        ("etc/profile", PROFILE, 0o644),
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644),
        ("etc/group", "root:x:0:\n", 0o644),
        ("etc/hosts", "127.0.0.1\tlocalhost\n", 0o644),
        ("etc/shells", "/bin/sh\n", 0o644),
    ];
    for (name, text, mode) in files {
        let p = root.join(name);
        std::fs::write(&p, text).map_err(io(&p, "write"))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .map_err(io(&p, "set the mode of"))?;
    }
    let tmp = root.join("tmp");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))
        .map_err(io(&tmp, "set the mode of"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_interpreter() {
        let mut elf = vec![0u8; 200];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20] = 64; // phoff
        elf[0x36] = 56; // phentsize
        elf[0x38] = 2; // phnum
        elf[64] = 1; // PT_LOAD
        assert!(!has_interpreter(&elf));
        elf[120] = 3; // second header: PT_INTERP
        assert!(has_interpreter(&elf));
        assert!(!has_interpreter(b"#!/bin/sh\n"));
        // A truncated header table is not read past the end.
        elf[0x38] = 200;
        elf.truncate(130);
        assert!(has_interpreter(&elf));
    }

    #[test]
    fn builds_an_image_with_busybox_and_the_boot_script() {
        if find_busybox().is_err() || tools::system("debugfs", "e2fsprogs").is_err() {
            eprintln!("SKIPPED: no static busybox or e2fsprogs");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("sub/rootfs.ext4");
        assert!(ensure(&img, "32M", false).unwrap());
        assert!(!ensure(&img, "32M", false).unwrap(), "made once");
        let out = Command::new(tools::system("debugfs", "e2fsprogs").unwrap())
            .args(["-R", "cat /etc/vdelab/rc"])
            .arg(&img)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), RC);
        let ls = Command::new(tools::system("debugfs", "e2fsprogs").unwrap())
            .args(["-R", "ls -l /sbin"])
            .arg(&img)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&ls.stdout).contains("init"));
        // Nothing else is left next to it.
        let left: Vec<_> = std::fs::read_dir(t.path().join("sub")).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
