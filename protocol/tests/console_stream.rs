//! Property tests of the console protocol: what the switch writes parses back to the events it
//! meant, however the bytes are cut into reads, and no input makes the parser panic.

use proptest::prelude::*;
use vde_protocol::console::{
    write_data_block, Event, Parser, Status, BANNER, END_OF_SESSION, PROMPT,
};

/// One answer of the switch: data lines (if a data command), a status, the prompt.
#[derive(Debug, Clone)]
struct Answer {
    data: Option<Vec<String>>,
    status: Status,
}

fn data_line() -> impl Strategy<Value = String> {
    // Anything printable but the block's end marker.
    "[ -~]{0,40}".prop_filter("not the end marker", |l| l != ".")
}

fn answer() -> impl Strategy<Value = Answer> {
    (
        proptest::option::of(proptest::collection::vec(data_line(), 0..6)),
        prop_oneof![
            Just(Status::success()),
            (1u16..200, "[ -~]{1,30}").prop_map(|(e, t)| Status::failure(e, t)),
        ],
    )
        .prop_map(|(data, status)| Answer { data, status })
}

fn write(answers: &[Answer]) -> String {
    let mut out = format!("{BANNER}{PROMPT}");
    for a in answers {
        if let Some(lines) = &a.data {
            let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
            write_data_block(&mut out, &body);
        }
        a.status.write(&mut out);
        out.push_str(PROMPT);
    }
    out.push_str(END_OF_SESSION);
    out
}

fn expected(answers: &[Answer]) -> Vec<Event> {
    let mut ev = vec![Event::Banner {
        text: format!("{BANNER}\n"),
        prompt: "vde$ ".into(),
    }];
    for a in answers {
        if let Some(lines) = &a.data {
            ev.push(Event::DataStart);
            ev.extend(lines.iter().cloned().map(Event::Data));
            ev.push(Event::DataEnd);
        }
        ev.push(Event::Status(a.status.clone()));
        ev.push(Event::Other(String::new()));
        ev.push(Event::Prompt);
    }
    ev.push(Event::EndOfSession(END_OF_SESSION.into()));
    ev
}

fn parse_in_chunks(bytes: &[u8], cuts: &[prop::sample::Index]) -> Vec<Event> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    let mut p = Parser::new();
    let mut ev = Vec::new();
    for w in at.windows(2) {
        ev.extend(p.feed(&bytes[w[0]..w[1]]));
    }
    ev.extend(p.finish());
    ev
}

proptest! {
    #[test]
    fn written_answers_parse_back(
        answers in proptest::collection::vec(answer(), 0..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let bytes = write(&answers);
        prop_assert_eq!(parse_in_chunks(bytes.as_bytes(), &cuts), expected(&answers));
    }

    /// After the banner, how a stream is cut into reads changes nothing.
    #[test]
    fn reads_do_not_matter_after_the_banner(
        rest in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let bytes = [format!("{BANNER}{PROMPT}").as_bytes(), &rest].concat();
        prop_assert_eq!(parse_in_chunks(&bytes, &cuts), parse_in_chunks(&bytes, &[]));
    }

    #[test]
    fn parser_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let _ = parse_in_chunks(&bytes, &cuts);
    }

    #[test]
    fn status_lines_survive_write_then_parse(line in "[0-9]{4}[ -~]{0,30}") {
        if let Some(s) = Status::parse(&line) {
            let mut out = String::new();
            s.write(&mut out);
            prop_assert_eq!(Status::parse(out.trim_end_matches('\n')), Some(s));
        }
    }
}
