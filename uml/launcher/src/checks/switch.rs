//! A network word's switch: its socket exists, is a socket, and a switch answers on it.

use crate::net::Endpoint;
use crate::Problem;
use nix::errno::Errno;
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Why a switch socket is not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketState {
    Answers,
    Missing,
    NotASocket,
    /// It exists but nobody accepts connections (a stale socket).
    Refused,
    Other(String),
}

/// Connects (non-blocking) to the stream socket `path` and closes at once.
pub fn probe_stream_socket(path: &Path) -> SocketState {
    match std::fs::metadata(path) {
        Err(_) => return SocketState::Missing,
        Ok(m) if !m.file_type().is_socket() => return SocketState::NotASocket,
        Ok(_) => {}
    }
    // std's check of the path (length, NUL bytes) and its wording of the refusal.
    if let Err(e) = std::os::unix::net::SocketAddr::from_pathname(path) {
        return SocketState::Other(e.to_string());
    }
    let other = |e: Errno| SocketState::Other(std::io::Error::from(e).to_string());
    let addr = match UnixAddr::new(path) {
        Ok(a) => a,
        Err(e) => return other(e),
    };
    // Non-blocking, so that a switch with a full backlog counts as answering.
    let fd = match socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    ) {
        Ok(fd) => fd,
        Err(e) => return other(e),
    };
    match connect(fd.as_raw_fd(), &addr) {
        Ok(()) | Err(Errno::EINPROGRESS | Errno::EAGAIN) => SocketState::Answers,
        Err(Errno::ECONNREFUSED) => SocketState::Refused,
        Err(Errno::ENOENT) => SocketState::Missing,
        Err(e) => other(e),
    }
}

/// Checks that the switch a network word names exists and answers.
pub fn check_switch(word: &str, ep: &Endpoint) -> Result<(), Problem> {
    let (path, start) = match ep {
        Endpoint::Vde(p) => (p.clone(), format!("vde_switch -d -s {}", p.display())),
        Endpoint::Daemon(p) => (
            p.clone(),
            match p.file_name() {
                Some(n) if n == "ctl" => format!(
                    "vde_switch -d -s {}",
                    p.parent().unwrap_or(Path::new(".")).display()
                ),
                _ => format!("uml_switch -unix {} </dev/null &", p.display()),
            },
        ),
    };
    let text = path.to_string_lossy();
    if text.contains(',') {
        return Err(Problem::new(
            format!("`{word}`: the switch path {text} contains `,`, which separates the transport's options"),
            "start the switch in a directory whose path has no `,` or `:`",
        ));
    }
    // A vde switch is named by its directory (DIR/ctl) or its control socket.
    let sock = match ep {
        Endpoint::Vde(p) if p.is_dir() => p.join("ctl"),
        _ => path.clone(),
    };
    match probe_stream_socket(&sock) {
        SocketState::Answers => Ok(()),
        SocketState::Missing => {
            let what = if matches!(ep, Endpoint::Vde(p) if p.is_dir()) {
                format!(
                    "`{word}`: {} has no control socket `ctl`: no switch runs there",
                    path.display()
                )
            } else {
                format!("`{word}`: the switch socket {} does not exist", path.display())
            };
            Err(Problem::new(what, format!("start the switch first: `{start}`")))
        }
        SocketState::NotASocket => Err(Problem::new(
            format!("`{word}`: {} is not a switch socket", sock.display()),
            match ep {
                Endpoint::Vde(_) => "name the switch directory (the one given to vde_switch -s)".to_string(),
                Endpoint::Daemon(_) => "name the switch's control socket (vde_switch -s DIR gives DIR/ctl; uml_switch -unix CTL gives CTL)".to_string(),
            },
        )),
        SocketState::Refused => Err(Problem::new(
            format!(
                "`{word}`: the switch socket {} exists but no switch answers (left behind by a \
                 switch that stopped)",
                sock.display()
            ),
            format!("start the switch again: `{start}`"),
        )),
        SocketState::Other(e) => Err(Problem::new(
            format!("`{word}`: cannot connect to the switch socket {}: {e}", sock.display()),
            "check the path and its permissions",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_sockets() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("sw");
        let e = check_switch("eth0=vde,x", &Endpoint::Vde(dir.clone())).unwrap_err();
        assert!(
            e.what.contains("does not exist") && e.fix.contains("vde_switch"),
            "{e}"
        );
        std::fs::create_dir(&dir).unwrap();
        let e = check_switch("eth0=vde,x", &Endpoint::Vde(dir.clone())).unwrap_err();
        assert!(e.what.contains("no switch runs there"), "{e}");
        let l = std::os::unix::net::UnixListener::bind(dir.join("ctl")).unwrap();
        assert!(check_switch("w", &Endpoint::Vde(dir.clone())).is_ok());
        assert!(check_switch("w", &Endpoint::Daemon(dir.join("ctl"))).is_ok());
        drop(l);
        let e = check_switch("w", &Endpoint::Vde(dir.clone())).unwrap_err();
        assert!(e.what.contains("no switch answers"), "{e}");
        std::fs::write(t.path().join("file"), b"x").unwrap();
        let e = check_switch("w", &Endpoint::Daemon(t.path().join("file"))).unwrap_err();
        assert!(e.what.contains("not a switch socket"), "{e}");
    }
}
