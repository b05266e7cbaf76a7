//! Man pages and shell completions for the tools whose command line is a clap `Command`
//! (`vdeterm`, `umlcow`, `umlrun`): each tool calls [`serve_if_asked`] first thing in `main`,
//! and prints one of them instead of running when `VDE_RS_GENERATE` asks for it:
//!
//! ```text
//! VDE_RS_GENERATE=man vdeterm > vdeterm.1
//! VDE_RS_GENERATE=bash umlcow > umlcow.bash     # also zsh, fish
//! ```
//!
//! The package build (`scripts/package`) uses this, so the pages and completions always match
//! the binaries they ship with. Without the variable nothing changes.

#![forbid(unsafe_code)]

use std::io::Write;

use clap_complete::Shell;

/// The environment variable that asks for a man page or a completion script.
pub const VARIABLE: &str = "VDE_RS_GENERATE";

/// What can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Man,
    Completion(Shell),
}

impl Output {
    /// `man`, `bash`, `zsh` or `fish`.
    pub fn parse(word: &str) -> Option<Output> {
        match word {
            "man" => Some(Output::Man),
            "bash" => Some(Output::Completion(Shell::Bash)),
            "zsh" => Some(Output::Completion(Shell::Zsh)),
            "fish" => Some(Output::Completion(Shell::Fish)),
            _ => None,
        }
    }
}

/// Write `what` for `cmd` to `out`.
pub fn generate(what: Output, mut cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    match what {
        Output::Man => clap_mangen::Man::new(cmd).render(out),
        Output::Completion(shell) => {
            // Into memory first: the generator panics on a write error (a closed pipe).
            let name = cmd.get_name().to_string();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, name, &mut script);
            out.write_all(&script)
        }
    }
}

/// When `VDE_RS_GENERATE` is set: print what it asks for on stdout and exit (status 0, or 2
/// for an unknown value). Otherwise return at once without building the command.
pub fn serve_if_asked(cmd: impl FnOnce() -> clap::Command) {
    let Some(word) = std::env::var_os(VARIABLE) else {
        return;
    };
    let word = word.to_string_lossy();
    let Some(what) = Output::parse(&word) else {
        eprintln!("{VARIABLE}={word}: expected man, bash, zsh or fish");
        std::process::exit(2);
    };
    let mut out = std::io::stdout().lock();
    let written = generate(what, cmd(), &mut out).and_then(|()| out.flush());
    if let Err(e) = written {
        eprintln!("{VARIABLE}={word}: {e}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> clap::Command {
        clap::Command::new("demo")
            .version("1.0")
            .about("A demo tool")
            .arg(clap::Arg::new("verbose").long("verbose").help("Say more"))
    }

    #[test]
    fn every_output_names_the_tool_and_its_options() {
        for word in ["man", "bash", "zsh", "fish"] {
            let mut out = Vec::new();
            generate(Output::parse(word).unwrap(), demo(), &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("demo"), "{word}: {text}");
            assert!(text.contains("verbose"), "{word}: {text}");
        }
        assert_eq!(Output::parse("tcsh"), None);
    }
}
