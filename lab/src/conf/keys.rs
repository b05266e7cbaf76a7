//! The keys `lab.conf` knows: ours, and those of Netkit and Kathará we do not support (refused
//! with the reason, not as typos).

use uml_launcher::checks::closest;

/// Lab-wide settings (Netkit and Kathará).
pub const GLOBALS: &[&str] = &[
    "LAB_NAME",
    "LAB_DESCRIPTION",
    "LAB_VERSION",
    "LAB_AUTHOR",
    "LAB_EMAIL",
    "LAB_WEB",
];

/// `HOST[KEY]` besides the interface numbers.
pub const HOST_KEYS: &[&str] = &["mem", "image", "kernel", "env", "disk"];

/// `HOST[N][KEY]`.
pub const IFACE_KEYS: &[&str] = &["mac", "vlan", "transport", "impair"];

/// `domain[D][KEY]`.
pub const DOMAIN_KEYS: &[&str] = &["hub", "ports", "rc"];

/// The name that introduces domain settings (so no host may have it).
pub const DOMAIN: &str = "domain";

/// Host keys of Netkit or Kathará that mean nothing for a UML guest here, with what to do
/// instead.
pub fn unsupported_host_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "filesystem" => "write HOST[image]=FILE for the root file system image",
        "con0" | "con1" | "xterm" | "num_terms" => {
            "each guest has one console, a pseudo-terminal: attach to it with `vdelab console HOST`"
        }
        "append" => "put what the guest needs in HOST.startup (or HOST[env]=KEY=VALUE)",
        "cpus" => "UML guests have one CPU",
        "bridged" | "port" => {
            "guests are not connected to the host's network; put a host on a collision domain \
             instead"
        }
        "sysctl" => "put `sysctl -w KEY=VALUE` in HOST.startup",
        "exec" | "shell" | "entrypoint" | "privileged" | "ulimit" | "ipv6" | "hostlab"
        | "hostwd" => {
            "this is a setting of Netkit or Kathará containers; put commands in HOST.startup"
        }
        _ => return None,
    })
}

/// A suggestion for a misspelled key among `candidates`: ` (did you mean `X`?)` or nothing.
pub fn did_you_mean(word: &str, candidates: &[&str], show: impl Fn(&str) -> String) -> String {
    let lower = word.to_ascii_lowercase();
    let hit = candidates
        .iter()
        .find(|c| c.eq_ignore_ascii_case(word))
        .copied()
        .or_else(|| closest(word, candidates))
        .or_else(|| closest(&lower, candidates));
    match hit {
        Some(c) => format!(" (did you mean `{}`?)", show(c)),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let show = |c: &str| format!("h1[{c}]");
        assert_eq!(
            did_you_mean("mme", HOST_KEYS, show),
            " (did you mean `h1[mem]`?)"
        );
        assert_eq!(
            did_you_mean("MEM", HOST_KEYS, show),
            " (did you mean `h1[mem]`?)"
        );
        assert_eq!(did_you_mean("zzzz", HOST_KEYS, show), "");
        assert_eq!(
            did_you_mean("LAB_DESCRIPTON", GLOBALS, str::to_string),
            " (did you mean `LAB_DESCRIPTION`?)"
        );
        assert!(unsupported_host_key("bridged").is_some());
        assert!(unsupported_host_key("mem").is_none());
    }
}
