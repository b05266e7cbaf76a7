//! TAB completion: the command list as the stock vdeterm builds it from the switch's `help`.

/// Builds the completion list from the data lines of `help`, as the stock vdeterm does: skip
/// lines up to the separator (a line starting with `------------`), take the first
/// space-delimited word of every following line, drop menu headers (a word that, followed by `/`,
/// is a prefix of the next word, e.g. `port` before `port/showinfo`), sort.
pub fn commands_from_help<S: AsRef<str>>(lines: &[S]) -> Vec<String> {
    let words: Vec<&str> = lines
        .iter()
        .map(AsRef::as_ref)
        .skip_while(|l| !l.starts_with("------------"))
        .skip(1)
        .filter_map(|l| l.split(' ').next())
        .filter(|w| !w.is_empty())
        .collect();
    let mut commands: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(i, w)| {
            !words
                .get(i + 1)
                .is_some_and(|next| next.strip_prefix(**w).is_some_and(|r| r.starts_with('/')))
        })
        .map(|(_, w)| w.to_string())
        .collect();
    commands.sort();
    commands.dedup();
    commands
}

/// One completion candidate: what is inserted, and what a list of candidates shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub display: String,
    pub replacement: String,
}

/// Completes the line `line` with the cursor at byte `pos`: returns where the replaced word
/// starts and the candidates. The first word completes to a command (followed by a space, as
/// in the stock vdeterm: `port/sh` -> `port/showinfo `); the argument of `help` completes to a
/// command or menu prefix (no space added). Nothing else completes.
pub fn complete(commands: &[String], line: &str, pos: usize) -> (usize, Vec<Candidate>) {
    let pos = pos.min(line.len());
    let before = match line.get(..pos) {
        Some(b) => b,
        None => return (pos, Vec::new()),
    };
    let lead = before.len() - before.trim_start_matches([' ', '\t']).len();
    let rest = &before[lead..];
    match rest.find([' ', '\t']) {
        None => (
            lead,
            commands
                .iter()
                .filter(|c| c.starts_with(rest))
                .map(|c| Candidate {
                    display: c.clone(),
                    replacement: format!("{c} "),
                })
                .collect(),
        ),
        Some(end) => {
            let first = &rest[..end];
            let args = &rest[end..];
            let arg_start = args.len() - args.trim_start_matches([' ', '\t']).len();
            let arg = &args[arg_start..];
            if first != "help" || arg.contains([' ', '\t']) {
                return (pos, Vec::new());
            }
            (
                lead + end + arg_start,
                commands
                    .iter()
                    .filter(|c| c.starts_with(arg))
                    .map(|c| Candidate {
                        display: c.clone(),
                        replacement: c.clone(),
                    })
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help_lines() -> Vec<&'static str> {
        vec![
            "COMMAND PATH       SYNTAX          HELP",
            "------------       --------------  ------------",
            "ds                 ============    DATA SOCKET MENU",
            "ds/showinfo                        show ds info",
            "help               [arg]           Help (limited to arg when specified)",
            "logout                             logout from this mgmt terminal",
            "shutdown                           shutdown of the switch",
            "showinfo                           show switch version and info",
            "port               ============    PORT STATUS MENU",
            "port/showinfo                      show port info",
            "port/setnumports   N               set the number of ports",
            "port/create        N               create the port N (inactive|notallocatable)",
            "port/createauto                    create a port with an automatically allocated id",
            "port/print         [N]             print the port/endpoint table",
        ]
    }

    fn cmds() -> Vec<String> {
        commands_from_help(&help_lines())
    }

    #[test]
    fn list_like_the_stock_vdeterm() {
        assert_eq!(
            cmds(),
            [
                "ds/showinfo",
                "help",
                "logout",
                "port/create",
                "port/createauto",
                "port/print",
                "port/setnumports",
                "port/showinfo",
                "showinfo",
                "shutdown"
            ]
        );
        assert!(commands_from_help::<&str>(&[]).is_empty());
        assert!(commands_from_help(&["no separator", "x y"]).is_empty());
    }

    fn replacements(line: &str) -> (usize, Vec<String>) {
        let (start, c) = complete(&cmds(), line, line.len());
        (start, c.into_iter().map(|c| c.replacement).collect())
    }

    #[test]
    fn first_word() {
        assert_eq!(replacements("port/sh"), (0, vec!["port/showinfo ".into()]));
        assert_eq!(
            replacements("  port/sh"),
            (2, vec!["port/showinfo ".into()])
        );
        assert_eq!(
            replacements("sh"),
            (0, vec!["showinfo ".into(), "shutdown ".into()])
        );
        assert_eq!(replacements("zz"), (0, vec![]));
        assert_eq!(replacements("").1.len(), cmds().len());
    }

    #[test]
    fn arguments() {
        assert_eq!(replacements("port/print 1"), (12, vec![]));
        assert_eq!(
            replacements("help port/s"),
            (5, vec!["port/setnumports".into(), "port/showinfo".into()])
        );
        assert_eq!(replacements("help  ds").0, 6);
        assert_eq!(replacements("help a b"), (8, vec![]));
    }

    #[test]
    fn cursor_inside_the_line() {
        let (start, c) = complete(&cmds(), "port/sh 1", 7);
        assert_eq!(start, 0);
        assert_eq!(c[0].display, "port/showinfo");
        // Not on a char boundary: nothing.
        assert!(complete(&cmds(), "é", 1).1.is_empty());
    }
}
