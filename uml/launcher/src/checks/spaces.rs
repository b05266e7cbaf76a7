//! Spaces inside a word's list of sub-parameters: the shell then splits one kernel word into
//! several (`ubd0=h1.cow, rootfs.ext4`, `eth0=vde, /tmp/s1`, `ubd0= h1.cow`).

use super::spelling::split_family;
use crate::args::{Arg, Word};
use crate::Problem;

fn looks_like_path(w: &str) -> bool {
    !w.contains('=')
        && (w.contains('/')
            || [
                ".cow", ".ext4", ".ext3", ".ext2", ".img", ".raw", ".qcow2", "ctl",
            ]
            .iter()
            .any(|s| w.ends_with(s)))
}

fn is_device_word(a: &Arg) -> bool {
    match &a.word {
        Word::Ubd(_) | Word::Eth(_) | Word::Vec(_) => true,
        Word::KeyValue { key, .. } => {
            let (fam, rest) = split_family(key);
            (fam == "con" || fam == "ssl") && rest.chars().all(|c| c.is_ascii_digit())
        }
        Word::Flag(_) => false,
    }
}

/// Finds a word cut by a space: `a` is the word, `next` and `prev` its neighbours.
pub(super) fn check_spaces(
    a: &Arg,
    next: Option<&str>,
    prev: Option<&Arg>,
    problems: &mut Vec<Problem>,
) {
    let t = &a.text;
    if t.chars().any(char::is_whitespace) && (is_device_word(a) || t.contains(',')) {
        problems.push(Problem::new(
            format!("`{t}` has a space inside its list of sub-parameters"),
            format!(
                "write it without spaces: `{}`",
                t.split_whitespace().collect::<String>()
            ),
        ));
        return;
    }
    if t == "=" || t.starts_with('=') {
        problems.push(Problem::new(
            format!("`{t}`: a word starts with `=` (a space before the `=`?)"),
            "write KEY=VALUE as one word without spaces, e.g. ubd0=h1.cow,rootfs.ext4",
        ));
        return;
    }
    if t.ends_with('=') && is_device_word(a) {
        if let Some(n) = next {
            problems.push(Problem::new(
                format!("`{t}` is followed by a separate word `{n}` (a space after the `=`)"),
                format!("write it as one word: `{t}{n}`"),
            ));
        }
        return;
    }
    if is_device_word(a)
        && (t.ends_with(',') || (matches!(a.word, Word::Ubd(_)) && t.ends_with(':')))
    {
        match next {
            Some(n) if !n.contains('=') || looks_like_path(n) => problems.push(Problem::new(
                format!("`{t}` is followed by a separate word `{n}`: there is a space after the comma"),
                format!("write it as one word, without spaces: `{t}{n}`"),
            )),
            _ => problems.push(Problem::new(
                format!("`{t}` ends with a separator (the next part is missing, or separated by a space)"),
                "write the whole list as one word without spaces, e.g. ubd0=h1.cow,rootfs.ext4",
            )),
        }
        return;
    }
    if t.starts_with(',') {
        let joined = prev.map(|p| format!("{}{t}", p.text));
        problems.push(Problem::new(
            format!("`{t}` starts with a comma: there is a space before the comma"),
            match joined {
                Some(j) => format!("write it as one word, without spaces: `{j}`"),
                None => "remove the space before the comma".to_string(),
            },
        ));
    }
}
