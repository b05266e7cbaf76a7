//! The console protocol of a `vde_switch` management (`-M`) socket, as vdeterm shows it.
//!
//! The byte stream itself (banner, data blocks, status lines, debug lines, prompt, end of
//! session) is defined once, in [`vde_protocol::console`], for the switch that writes it and for
//! this client that reads it; this module adds how the stock vdeterm displays each event.

pub use vde_protocol::console::{
    split_code, Event, Parser, Status, DATA_CODE, END_OF_SESSION_CODE, SUCCESS_CODE,
};

/// How the stock vdeterm shows an event: data lines raw, the text of `1xxx` status lines,
/// `** DBG MSG: <text>` for `3xxx` lines; the banner as is; nothing for anything else.
/// The returned text has no final newline (except a banner, which is returned verbatim).
pub fn render(event: &Event) -> Option<String> {
    match event {
        Event::Banner { text, .. } => Some(text.clone()),
        Event::Data(line) => Some(line.clone()),
        Event::Status(s) => Some(s.text.clone()),
        Event::Debug { text, .. } => Some(format!("** DBG MSG: {text}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_like_the_stock_vdeterm() {
        assert_eq!(render(&Event::Data(" x".into())).as_deref(), Some(" x"));
        assert_eq!(
            render(&Event::Status(Status {
                code: 1000,
                text: "Success".into()
            }))
            .as_deref(),
            Some("Success")
        );
        assert_eq!(
            render(&Event::Debug {
                code: 3021,
                text: "port/+ 01".into()
            })
            .as_deref(),
            Some("** DBG MSG: port/+ 01")
        );
        assert_eq!(render(&Event::Other("vde[x]: y".into())), None);
        assert_eq!(render(&Event::Prompt), None);
        assert_eq!(render(&Event::DataStart), None);
        assert_eq!(
            render(&Event::EndOfSession("9999 END OF SESSION".into())),
            None
        );
    }
}
