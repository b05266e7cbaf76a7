//! Files umlrun makes before boot: COW files (with the COW library) and empty ext4 images.

use super::{LaunchError, Result};
use std::path::PathBuf;

/// Something to make before boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CreateCow { cow: PathBuf, backing: PathBuf },
    MkfsExt4 { image: PathBuf, size: String },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::CreateCow { cow, backing } => write!(
                f,
                "the COW file {} over {}",
                cow.display(),
                backing.display()
            ),
            Action::MkfsExt4 { image, size } => {
                write!(f, "the empty ext4 image {} ({size})", image.display())
            }
        }
    }
}

/// Carries out the plan's actions: COW files (with the COW library) and empty ext4 images.
pub fn make_files(actions: &[Action]) -> Result<()> {
    for a in actions {
        match a {
            Action::CreateCow { cow, backing } => {
                uml_cow::create(cow, backing, &Default::default())?;
            }
            Action::MkfsExt4 { image, size } => {
                let mkfs = super::kernel::which("mkfs.ext4")
                    .or_else(|| {
                        ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"]
                            .into_iter()
                            .map(PathBuf::from)
                            .find(|p| p.exists())
                    })
                    .ok_or_else(|| {
                        LaunchError::io(
                            image,
                            "make an ext4 image (mkfs.ext4 not found; Debian package e2fsprogs)",
                            std::io::Error::from(std::io::ErrorKind::NotFound),
                        )
                    })?;
                let out = std::process::Command::new(mkfs)
                    .arg("-q")
                    .arg(image)
                    .arg(size)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(|e| LaunchError::io(image, "run mkfs.ext4 for", e))?;
                if !out.status.success() {
                    let _ = std::fs::remove_file(image);
                    return Err(LaunchError::io(
                        image,
                        "make an ext4 image",
                        std::io::Error::other(
                            String::from_utf8_lossy(&out.stderr).trim().to_string(),
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
