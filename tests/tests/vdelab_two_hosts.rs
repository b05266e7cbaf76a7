//! `examples/two-hosts` run by `vdelab` with the stock UML kernel: two guests on one of our
//! switches, h1 over the vde transport and h2 over the uml_switch (daemon) protocol, ping each
//! other from their consoles; `status` shows both and the switch ports they are on; `down`
//! stops them cleanly and leaves nothing behind. Skipped, with a message, without a UML kernel.

use integration_tests::needs;
use integration_tests::vdelab::{Lab, UP};

#[test]
fn two_hosts_on_a_switch_ping_each_other() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let lab = Lab::example("two-hosts");
    let up = lab.up(&kernel);
    assert!(
        up.stderr.contains("h1 is up") && up.stderr.contains("h2 is up"),
        "{}",
        lab.explain(&up)
    );

    let st = lab.status(&kernel);
    assert_eq!(st["running"], true, "{st:#}");
    let hosts = st["hosts"].as_array().unwrap();
    let h = |name: &str| hosts.iter().find(|h| h["name"] == name).unwrap().clone();
    let (h1, h2) = (h("h1"), h("h2"));
    for x in [&h1, &h2] {
        assert_eq!(x["state"], "running", "{st:#}");
        assert!(x["kernel_pid"].as_i64().is_some(), "{st:#}");
        assert!(
            x["console_pts"].as_str().unwrap().starts_with("/dev/pts/"),
            "{st:#}"
        );
        assert_eq!(x["startup_status"], 0, "{st:#}");
    }
    assert_eq!(h1["interfaces"][0]["transport"], "vde");
    assert_eq!(h1["interfaces"][0]["port"], 1, "{st:#}");
    assert_eq!(h2["interfaces"][0]["transport"], "daemon");
    assert_eq!(
        h2["interfaces"][0]["port"], 2,
        "the daemon transport's port, found: {st:#}"
    );
    assert_eq!(st["domains"][0]["kind"], "switch");
    let table = lab.run(&kernel, &["status"], UP);
    assert!(
        table.stdout.contains("eth0: A port 2 (daemon)"),
        "{}",
        table.stdout
    );

    // The startup files ran (addresses), /hostlab is the lab, the host name is set.
    let (code, out) = lab.shell(&kernel, "h1", "ping -c 3 -W 5 10.0.0.2");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 packets received"), "{out}");
    let (code, out) = lab.shell(&kernel, "h2", "ping -c 3 -W 5 10.0.0.1");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 packets received"), "{out}");
    let (_, out) = lab.shell(&kernel, "h2", "hostname; ls /hostlab");
    assert!(
        out.starts_with("h2\n") && out.contains("h2.startup"),
        "{out}"
    );

    // A second `up` is refused while the lab runs.
    let again = lab.run(&kernel, &["up"], UP);
    assert_eq!(
        again.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        lab.explain(&again)
    );
    assert!(again.stderr.contains("already running"), "{}", again.stderr);

    let down = lab.down(&kernel);
    for host in ["h1", "h2"] {
        assert!(
            down.stderr.contains(&format!("{host}: stopped cleanly")),
            "{}",
            lab.explain(&down)
        );
    }
    assert_eq!(lab.leftovers(), Vec::<String>::new());
    // The disks stay for the next `up`; `status` says the lab is stopped (exit status 3).
    assert!(lab.dir.join(".vdelab/disks/h1.cow").is_file());
    let st = lab.run(&kernel, &["status"], UP);
    assert_eq!(st.status.and_then(|s| s.code()), Some(3));
    assert!(st.stdout.contains("not running"), "{}", st.stdout);
    let again = lab.down(&kernel);
    assert!(again.stderr.contains("not running"), "{}", again.stderr);
}
