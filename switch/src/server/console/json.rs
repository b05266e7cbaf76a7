//! `json CMD [ARGS]` (our extension): a data command's view as one JSON document inside the
//! usual data block, followed by that command's status, for GUIs and scripts. The text output
//! of every command stays byte-identical to the reference's.

use super::{lookup, Action, CmdResult, Ctx};

pub fn run(cx: &mut Ctx<'_>, args: &str, out: &mut String) -> CmdResult {
    let line = args.trim_start_matches([' ', '\t']);
    let Some((spec, rest)) = lookup(line) else {
        return Err(libc::EINVAL);
    };
    let Action::Show(show) = spec.action else {
        return Err(libc::EINVAL);
    };
    let view = show(cx, rest)?;
    out.push_str(&view.json().to_string());
    out.push('\n');
    view.status()
}
