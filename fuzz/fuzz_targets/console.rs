//! The console byte stream as a client reads it from any switch: no input may panic the
//! parser; after the banner, how the bytes are cut into reads changes nothing; a status line
//! that parses survives write → parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vde_protocol::console::{Parser, Status, BANNER, PROMPT};

fn parse(chunks: &[&[u8]]) -> Vec<vde_protocol::console::Event> {
    let mut p = Parser::new();
    let mut ev = Vec::new();
    for c in chunks {
        ev.extend(p.feed(c));
    }
    ev.extend(p.finish());
    ev
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let k = usize::from(cut).min(rest.len());
    let _ = parse(&[&rest[..k], &rest[k..]]);

    let session = [format!("{BANNER}{PROMPT}").as_bytes(), rest].concat();
    let k = usize::from(cut).min(session.len());
    assert_eq!(parse(&[&session[..k], &session[k..]]), parse(&[&session]));

    for line in String::from_utf8_lossy(rest).lines() {
        if let Some(s) = Status::parse(line) {
            let mut out = String::new();
            s.write(&mut out);
            assert_eq!(Status::parse(out.trim_end_matches('\n')), Some(s));
        }
    }
});
