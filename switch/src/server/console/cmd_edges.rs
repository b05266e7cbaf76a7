//! `port/capture`, `port/mirror`, `port/impair` (our extensions): what happens at a port's
//! edge besides forwarding ([`crate::server::edges`]). Each is a data command: without a
//! setting it lists, with one it changes and shows the result; a refused argument is
//! explained in the data block, with EINVAL (or the errno of a failed open) as the status.

use std::fmt::Write;
use std::path::Path;

use serde_json::{json, Value};

use super::view::View;
use super::{Ctx, Effect};
use crate::fabric::PortId;
use crate::impair::Settings;
use crate::server::edges::{self, Dir, Edges, PortEdges, Sink};

/// A refused command: the reason, and the status.
struct Refused {
    why: String,
    errno: i32,
}

impl View for Refused {
    fn text(&self, out: &mut String) {
        let _ = writeln!(out, "{}", self.why);
    }

    fn json(&self) -> Value {
        json!({ "error": self.why })
    }

    fn status(&self) -> super::CmdResult {
        Err(self.errno)
    }
}

fn refused(why: impl Into<String>) -> Box<dyn View> {
    Box::new(Refused {
        why: why.into(),
        errno: libc::EINVAL,
    })
}

/// A port number argument, strictly decimal and below `numports`.
fn port_word(cx: &Ctx<'_>, word: &str) -> Result<PortId, String> {
    let numports = cx.fabric.numports();
    word.parse::<u16>()
        .ok()
        .map(PortId)
        .filter(|p| p.index() < numports)
        .ok_or_else(|| {
            format!(
                "{word}: not a port number; expected 0 to {}",
                numports.saturating_sub(1)
            )
        })
}

/// The shared state, or ENOSYS where the host has none.
fn edges<'a>(cx: &Ctx<'a>) -> Result<&'a edges::Shared, i32> {
    cx.edges.ok_or(libc::ENOSYS)
}

/// Tell the plane which ports the hook watches now.
fn rewatch(cx: &mut Ctx<'_>, shared: &edges::Shared) {
    cx.effect(Effect::Hook(Edges::hook_change(shared)));
}

/// `port/capture` and `port/impair` listings: one line per port, in port order.
struct Rows {
    key: &'static str,
    lines: Vec<String>,
    json: Vec<Value>,
}

impl View for Rows {
    fn text(&self, out: &mut String) {
        for l in &self.lines {
            out.push_str(l);
            out.push('\n');
        }
    }

    fn json(&self) -> Value {
        json!({ self.key: self.json })
    }
}

fn capture_line(out: &mut Vec<String>, what: &str, c: &Sink) {
    let mut line = format!(
        "{what} capture {} frames={} dropped={}",
        c.path().display(),
        c.frames,
        c.dropped
    );
    if let Some(why) = &c.ended {
        let _ = write!(line, " ended: {why}");
    }
    out.push(line);
}

fn capture_rows(e: &Edges, only: Option<PortId>) -> Rows {
    let mut rows = Rows {
        key: "captures",
        lines: Vec::new(),
        json: Vec::new(),
    };
    if let (Some(all), None) = (e.all(), only) {
        capture_line(&mut rows.lines, "All ports", all);
        let mut j = all.to_json();
        j["port"] = json!("all");
        rows.json.push(j);
    }
    for (p, pe) in e.ports() {
        if only.is_some_and(|o| o != p) {
            continue;
        }
        if let Some(c) = &pe.capture {
            capture_line(&mut rows.lines, &format!("Port {p:04}"), c);
            let mut j = c.to_json();
            j["port"] = json!(p.0);
            rows.json.push(j);
        }
    }
    rows
}

/// `port/capture [N PATH|N off|all PATH|all off]`.
pub fn capture(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let shared = edges(cx)?;
    let words: Vec<&str> = args.split_whitespace().collect();
    let (which, target) = match words.as_slice() {
        [] => return Ok(Box::new(capture_rows(&shared.borrow(), None))),
        [which] => {
            return match port_word(cx, which) {
                Ok(p) => Ok(Box::new(capture_rows(&shared.borrow(), Some(p)))),
                Err(why) => Ok(refused(why)),
            }
        }
        [which, target] => (*which, *target),
        _ => {
            return Ok(refused(
                "usage: port/capture [N] | port/capture N|all PATH | port/capture N|all off",
            ))
        }
    };
    let port = if which == "all" {
        None
    } else {
        match port_word(cx, which) {
            Ok(p) => Some(p),
            Err(why) => return Ok(refused(why)),
        }
    };
    let sink = if target == "off" {
        None
    } else {
        match Sink::open(Path::new(target), port.is_none()) {
            Ok(s) => Some(s),
            Err(e) => {
                return Ok(Box::new(Refused {
                    why: format!("{target}: cannot write a capture there: {e}"),
                    errno: e.errno(),
                }))
            }
        }
    };
    {
        let mut e = shared.borrow_mut();
        match port {
            Some(p) => e.set_capture(p, sink),
            None => e.set_capture_all(sink, cx.fabric.numports()),
        }
    }
    rewatch(cx, shared);
    let e = shared.borrow();
    Ok(Box::new(match port {
        Some(p) => capture_rows(&e, Some(p)),
        None => capture_rows(&e, None),
    }))
}

/// `port/mirror [N DST|N off]`.
pub fn mirror(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let shared = edges(cx)?;
    let words: Vec<&str> = args.split_whitespace().collect();
    let mut only = None;
    match words.as_slice() {
        [] => {}
        [n] => match port_word(cx, n) {
            Ok(p) => only = Some(p),
            Err(why) => return Ok(refused(why)),
        },
        [n, to] => {
            let port = match port_word(cx, n) {
                Ok(p) => p,
                Err(why) => return Ok(refused(why)),
            };
            let to = if *to == "off" {
                None
            } else {
                match port_word(cx, to) {
                    Ok(t) if t == port => {
                        return Ok(refused(format!("port {port} cannot mirror to itself")))
                    }
                    Ok(t) => Some(t),
                    Err(why) => return Ok(refused(why)),
                }
            };
            shared.borrow_mut().set_mirror(port, to);
            rewatch(cx, shared);
        }
        _ => {
            return Ok(refused(
                "usage: port/mirror [N] | port/mirror N DST | port/mirror N off",
            ))
        }
    }
    let mut rows = Rows {
        key: "mirrors",
        lines: Vec::new(),
        json: Vec::new(),
    };
    for (p, pe) in shared.borrow().ports() {
        if only.is_some_and(|o| o != p) {
            continue;
        }
        if let Some(to) = pe.mirror {
            rows.lines
                .push(format!("Port {p:04} mirrored to port {to:04}"));
            rows.json.push(json!({ "port": p.0, "to": to.0 }));
        }
    }
    Ok(Box::new(rows))
}

fn impair_lines(rows: &mut Rows, p: PortId, pe: &PortEdges) {
    for dir in [Dir::In, Dir::Out] {
        let Some(i) = &pe.impair[dir as usize] else {
            continue;
        };
        let c = i.queue.counters();
        let settings = if i.retiring {
            "off (releasing held frames)".to_string()
        } else {
            i.queue.settings().to_string()
        };
        rows.lines.push(format!(
            "Port {p:04} {:<3} {settings}\n  held={} pushed={} sent={} delayed={} lost={} duplicated={} corrupted={} reordered={} overflow={}",
            dir.name(),
            i.queue.len(),
            c.pushed,
            c.sent,
            c.delayed,
            c.lost,
            c.duplicated,
            c.corrupted,
            c.reordered,
            c.overflow
        ));
    }
    if pe.impair.iter().any(Option::is_some) {
        rows.json.push(edges::port_json(p, pe)["impair"].clone());
        if let Some(Value::Object(o)) = rows.json.last_mut() {
            o.insert("port".into(), json!(p.0));
        }
    }
}

const IMPAIR_USAGE: &str =
    "usage: port/impair [N] | port/impair N off | port/impair N in|out|both WORDS...";

/// `port/impair [N] | N off | N in|out|both WORDS...`.
pub fn impair(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let shared = edges(cx)?;
    let words: Vec<&str> = args.split_whitespace().collect();
    let only = match words.as_slice() {
        [] => None,
        [n, rest @ ..] => {
            let port = match port_word(cx, n) {
                Ok(p) => p,
                Err(why) => return Ok(refused(why)),
            };
            let (dirs, settings): (&[Dir], &[&str]) = match rest {
                [] => (&[], &[]),
                ["off"] => (&[Dir::In, Dir::Out], rest),
                ["in", s @ ..] => (&[Dir::In], s),
                ["out", s @ ..] => (&[Dir::Out], s),
                ["both", s @ ..] => (&[Dir::In, Dir::Out], s),
                [other, ..] => {
                    return Ok(refused(format!(
                        "{other}: expected a direction (in, out, both) or off; {IMPAIR_USAGE}"
                    )))
                }
            };
            if !dirs.is_empty() {
                let settings = match Settings::parse(settings.iter().copied()) {
                    Ok(s) => s,
                    Err(e) => return Ok(refused(e.to_string())),
                };
                {
                    let mut e = shared.borrow_mut();
                    for &d in dirs {
                        e.set_impair(port, d, settings.clone());
                    }
                }
                rewatch(cx, shared);
            }
            Some(port)
        }
    };
    let mut rows = Rows {
        key: "impairments",
        lines: Vec::new(),
        json: Vec::new(),
    };
    for (p, pe) in shared.borrow().ports() {
        if only.is_none_or(|o| o == p) {
            impair_lines(&mut rows, p, pe);
        }
    }
    Ok(Box::new(rows))
}
