//! Stock UML kernels (busybox guests) pinging each other through the switch under test, over
//! the `vde` and `daemon` (uml_switch protocol) transports, and through `uml_switch`.
//! Fails when no UML kernel is installed (see `integration_tests::needs`).

use integration_tests::uml::{describe, Guest, Rootfs};
use integration_tests::{needs, Switch};
use std::time::Duration;

const GUEST_DEADLINE: Duration = Duration::from_secs(60);

/// Boots both guests, waits for both results, asserts both got all replies.
fn ping_pair(kernel: &std::path::Path, eth_a: &str, eth_b: &str, switch_log: &dyn Fn() -> String) {
    let rootfs = Rootfs::build();
    let mut a = Guest::boot(kernel, &rootfs, "h1", eth_a, "10.0.0.1", "10.0.0.2");
    let mut b = Guest::boot(kernel, &rootfs, "h2", eth_b, "10.0.0.2", "10.0.0.1");
    let ra = a.wait_result(GUEST_DEADLINE);
    let rb = b.wait_result(GUEST_DEADLINE);
    eprintln!(
        "{}: {:?}\n{}: {:?}",
        a.command_line, ra.result, b.command_line, rb.result
    );
    let ok = ra.all_replies() && rb.all_replies();
    assert!(
        ok,
        "UML guests did not ping each other\n{}\n\n{}\n\n--- switch log ---\n{}",
        describe(&a, &ra),
        describe(&b, &rb),
        switch_log()
    );
    // `halt -f` ends each kernel with status 0 (the guest halts a few seconds after its
    // result line).
    for g in [&mut a, &mut b] {
        let code = g.wait_exit(GUEST_DEADLINE);
        assert_eq!(
            code,
            Some(0),
            "guest {} exit status (None: still running)",
            g.name
        );
    }
}

#[test]
fn uml_guests_on_vde_and_daemon_transports_ping_through_vde_switch() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let sw = Switch::start();
    let vde = format!("vde,{}", sw.dir().display());
    let daemon = format!("daemon,,unix,{}", sw.ctl().display());
    ping_pair(&kernel, &vde, &daemon, &|| sw.stderr());
}

#[test]
fn uml_guests_on_daemon_transport_ping_through_uml_switch() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let sw = Switch::uml_builder().start();
    let daemon = format!("daemon,,unix,{}", sw.ctl().display());
    ping_pair(&kernel, &daemon, &daemon, &|| {
        format!("stdout:\n{}\nstderr:\n{}", sw.stdout(), sw.stderr())
    });
}

/// Two UML guests boot and ping each other through `uml_switch -maxpending 4 -maxpending-user
/// 2` while uid 65534 holds 200 silent connections to its control socket: the guests' requests
/// are served, the flood's oldest connections make room for them.
#[test]
fn uml_guests_ping_through_uml_switch_while_another_user_floods_it() {
    use integration_tests::flood::{uml_switch_open_to_all, SilentFlood};
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let Some(()) = needs::root("to flood as another user") else {
        return;
    };
    if integration_tests::is_uml_reference() {
        integration_tests::bins::note_reference("the original uml_switch has no admission caps");
        return;
    }
    let (_t, sw) = uml_switch_open_to_all(&["-maxpending", "4", "-maxpending-user", "2"]);
    let flood = SilentFlood::start(sw.ctl(), 65534, 200);
    sw.expect_log("cap 4; 2 of uid 65534, cap 2): closed the one on fd ");
    let daemon = format!("daemon,,unix,{}", sw.ctl().display());
    ping_pair(&kernel, &daemon, &daemon, &|| {
        format!(
            "stdout:\n{}\nstderr (eviction lines left out):\n{}",
            sw.stdout(),
            sw.stderr()
                .lines()
                .filter(|l| !l.contains("at their cap"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(
        flood.running(),
        "the flood stopped before the guests were done"
    );
}
