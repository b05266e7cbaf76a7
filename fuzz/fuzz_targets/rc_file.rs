//! rc files and `load` scripts as the switch reads them: any bytes in a file give lines of at
//! most MAX_LINE bytes (longer ones skipped whole), never more than the file holds, and
//! running the file as an rc file on a fabric does not panic.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use vdeswitch::server::console;
use vdeswitch::server::console::script::{Line, Script, MAX_LINE};

#[path = "../checks/console_host.rs"]
mod console_host;
use console_host::{scratch, ConsoleHost};

fuzz_target!(|data: &[u8]| {
    let path = scratch("rc");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(data))
        .unwrap();
    let mut s = Script::open(&path).unwrap();
    let mut total = 0;
    let mut texts = Vec::new();
    while let Some(line) = s.next_line() {
        match line.unwrap() {
            Line::Text(t) => {
                let body = t.strip_suffix('\n').unwrap_or(&t);
                assert!(
                    body.len() <= MAX_LINE * 3,
                    "lossy UTF-8 at most triples a line"
                );
                assert!(!body.contains('\n'));
                total += 1;
                texts.push(t);
            }
            Line::TooLong => total += 1,
        }
        assert!(total <= data.len(), "more lines than bytes");
    }
    // Without long lines the text lines are the file, in order.
    if texts.len() == total {
        assert_eq!(texts.concat(), String::from_utf8_lossy(data));
    }
    let mut host = ConsoleHost::new(false);
    let _ = console::run_rc_file(&mut host, &path);
    let _ = std::fs::remove_file(&path);
});
