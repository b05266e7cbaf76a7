//! `plugin/*`: the reference loads C shared objects; this switch loads none
//! and answers as the reference does when nothing is loaded or loadable.

use std::fmt::Write;

use super::CmdResult;
use crate::server::Server;

pub fn list(_: &mut Server, _: &str, out: &mut String) -> CmdResult {
    let _ = writeln!(out, "{:<22} HELP", "NAME");
    let _ = writeln!(out, "{:<22} ----", "------------");
    Err(libc::ENOENT)
}

/// A library that cannot be found is ENOENT as in the reference; one that
/// exists is refused as "not a plugin" (EINVAL), since C plugins cannot run here.
pub fn add(_: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let home = std::env::var("HOME").unwrap_or_default();
    let candidates = [
        args.to_string(),
        format!("{args}.so"),
        format!("{home}/.vde2/plugins/{args}"),
        format!("{home}/.vde2/plugins/{args}.so"),
        format!("/usr/lib/vde2/plugins/{args}"),
        format!("/usr/lib/vde2/plugins/{args}.so"),
    ];
    if !args.is_empty() && candidates.iter().any(|c| std::path::Path::new(c).is_file()) {
        crate::log_warn!("plugin/add {args}: C plugins are not supported by this switch");
        return Err(libc::EINVAL);
    }
    Err(libc::ENOENT)
}

pub fn del(_: &mut Server, _: &str, _: &mut String) -> CmdResult {
    Err(libc::ENOENT)
}
