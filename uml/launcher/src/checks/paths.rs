//! Paths given to umlrun's own options, which end up inside kernel words.

use crate::Problem;
use std::path::Path;

/// Refuses a path (given to a friendly option) that contains `,` or `:`.
pub fn check_plain_path(option: &str, p: &Path) -> Result<(), Problem> {
    let s = p.to_string_lossy();
    if let Some(c) = s.chars().find(|c| *c == ',' || *c == ':') {
        return Err(Problem::new(
            format!(
                "{option} {s}: the path contains `{c}`, which the kernel treats as a separator"
            ),
            "rename it, or reach it through a symlink whose path has no `,` or `:`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_separators() {
        assert!(check_plain_path("--disk", Path::new("/tmp/a,b/x.img")).is_err());
        assert!(check_plain_path("--disk", Path::new("/tmp/a:b")).is_err());
        assert!(check_plain_path("--disk", Path::new("/tmp/ab")).is_ok());
    }
}
