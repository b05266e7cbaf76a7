//! `plugin/*`: C plugins cannot be loaded here; the commands answer as the
//! reference does when nothing is loaded or loadable.

use serde_json::{json, Value};

use super::view::View;
use super::{CmdResult, Ctx};

/// `plugin/list`: the header, and no plugin (ENOENT).
struct PluginList;

impl View for PluginList {
    fn text(&self, out: &mut String) {
        out.push_str(&format!("{:<22} HELP\n", "NAME"));
        out.push_str(&format!("{:<22} ----\n", "------------"));
    }

    fn json(&self) -> Value {
        json!({ "plugins": [] })
    }

    fn status(&self) -> CmdResult {
        Err(libc::ENOENT)
    }
}

pub fn list(_: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    Ok(Box::new(PluginList))
}

/// A library that cannot be found is ENOENT as in the reference; one that
/// exists is refused as "not a plugin" (EINVAL), since C plugins cannot run here.
pub fn add(_: &mut Ctx<'_>, args: &str) -> CmdResult {
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

pub fn del(_: &mut Ctx<'_>, _: &str) -> CmdResult {
    Err(libc::ENOENT)
}
