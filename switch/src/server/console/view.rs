//! What a data command shows, rendered two ways: the reference's text (the body of the
//! `0000 DATA END WITH '.'` block) and one JSON value (`json CMD`). Each data command builds
//! one view; the two renderings cannot drift apart.

use serde_json::Value;

use super::CmdResult;

pub trait View {
    /// The data block's lines, byte for byte as the reference prints them.
    fn text(&self, out: &mut String);
    /// The same data as one JSON value.
    fn json(&self) -> Value;
    /// The command's status once shown: a listing that matched nothing fails after its header.
    fn status(&self) -> CmdResult {
        Ok(())
    }
}

/// A data command: builds its view from the context and the argument text.
pub type Show = fn(&mut super::Ctx<'_>, &str) -> Result<Box<dyn View>, i32>;
