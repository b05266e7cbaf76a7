//! `json CMD [ARGS]` (our extension): every data command's output as one JSON document, checked
//! value by value against the switch's state (real `vde_plug` clients, learned MACs, VLANs, an
//! rc file) and against the text form of the same command; errors as the text form gives them.

use integration_tests::bins::note_reference;
use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{eth, is_reference, mac, payload, Plug, Switch, ARRIVE, BROADCAST};
use serde_json::{json, Value};

/// The data block of an answer (`0000 DATA END WITH '.'` ... `.` `1000 Success`).
fn data_block(answer: &str) -> &str {
    let body = answer
        .strip_prefix("0000 DATA END WITH '.'\n")
        .unwrap_or_else(|| panic!("not a data answer: {answer:?}"));
    body.strip_suffix(".\n1000 Success\n\nvde$ ")
        .unwrap_or_else(|| panic!("not a successful data answer: {answer:?}"))
}

/// `json CMD`, parsed.
#[track_caller]
fn json_of(s: &mut Session, cmd: &str) -> Value {
    let answer = lossy(&s.cmd(&format!("json {cmd}")));
    let block = data_block(&answer);
    assert_eq!(block.lines().count(), 1, "one line of JSON: {block:?}");
    serde_json::from_str(block).unwrap_or_else(|e| panic!("json {cmd}: {e}: {block:?}"))
}

/// The text answer of `cmd`'s data block.
fn text_of(s: &mut Session, cmd: &str) -> String {
    data_block(&lossy(&s.cmd(cmd))).to_string()
}

/// The status line of an answer without data.
fn status_of(s: &mut Session, cmd: &str) -> String {
    let a = lossy(&s.cmd(cmd));
    let a = a.strip_prefix("0000 DATA END WITH '.'\n.\n").unwrap_or(&a);
    a.strip_suffix("\n\nvde$ ")
        .unwrap_or_else(|| panic!("{cmd}: {a:?}"))
        .to_string()
}

const RC: &str = "vlan/create 10\nport/create 5\nport/setvlan 5 10\nhash/setexpire 200\n";

#[test]
fn json_forms_of_every_data_command() {
    if is_reference() {
        note_reference("json is ours");
        return;
    }
    let sw = MgmtSwitch::start(Switch::builder().rc(RC));
    let mut a = Plug::attach(&sw.switch);
    let mut b = Plug::attach(&sw.switch);
    let (ma, mb) = (mac(0x0a), mac(0x0b));
    let f = eth(BROADCAST, ma, ETH_P_TEST, &payload(46, 1));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "a's broadcast");
    let g = eth(ma, mb, ETH_P_TEST, &payload(86, 2));
    b.send(&g);
    a.expect_frame(&g, ARRIVE, "b's unicast");
    let (mut s, _) = Session::open(&sw.mgmt);
    let (pa, pb) = (a.port as u64, b.port as u64);

    // showinfo, ds/showinfo
    let v = json_of(&mut s, "showinfo");
    let text = text_of(&mut s, "showinfo");
    let mac_text = text
        .split_whitespace()
        .skip_while(|w| *w != "MAC")
        .nth(1)
        .expect("MAC in showinfo");
    assert_eq!(v["version"], "2.3.2");
    assert_eq!(v["pid"], sw.switch.pid());
    assert_eq!(v["mac"], mac_text);
    assert_eq!(v["mgmt"], sw.mgmt.display().to_string());
    assert_eq!(v["mgmt_mode"], "0600");
    assert!(v["uptime"].is_u64(), "{v}");
    let dir = sw.switch.dir().canonicalize().unwrap();
    assert_eq!(
        json_of(&mut s, "ds/showinfo"),
        json!({ "ctl_dir": dir.display().to_string(), "mode": "0600" })
    );
    assert_eq!(
        text_of(&mut s, "ds/showinfo"),
        format!("ctl dir {}\nstd mode 0600\n", dir.display())
    );

    // help: the same rows as the text form, menus marked.
    let v = json_of(&mut s, "help");
    let text = text_of(&mut s, "help");
    let rows: Vec<Value> = text
        .lines()
        .skip(2)
        .map(|l| {
            let col = |a: usize, b: usize| l.get(a..b.min(l.len())).unwrap_or("").trim();
            let menu = col(19, 35) == "============";
            json!({
                "path": col(0, 19),
                "syntax": col(19, 35),
                "help": col(35, l.len()),
                "menu": menu,
            })
        })
        .collect();
    assert_eq!(v["commands"], Value::Array(rows));
    let v = json_of(&mut s, "help vlan/");
    assert_eq!(v["commands"].as_array().map(Vec::len), Some(6), "{v}");

    // debug/list, before and after subscribing (per session).
    let v = json_of(&mut s, "debug/list");
    let text = text_of(&mut s, "debug/list");
    let rows: Vec<Value> = text
        .lines()
        .skip(2)
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            json!({
                "category": w[0],
                "tag": u64::from_str_radix(w[1], 8).unwrap(),
                "on": w[2] == "ON",
                "help": w[3..].join(" "),
            })
        })
        .collect();
    assert_eq!(v["categories"], Value::Array(rows));
    assert_eq!(status_of(&mut s, "debug/add port/ep"), "1000 Success");
    let v = json_of(&mut s, "debug/list port/ep");
    assert_eq!(
        v["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["category"].as_str().unwrap(), c["on"].as_bool().unwrap()))
            .collect::<Vec<_>>(),
        [("port/ep/+", true), ("port/ep/-", true)]
    );
    assert_eq!(status_of(&mut s, "debug/del port/ep"), "1000 Success");
    // No plugin: the data (an empty list), then the status of the text form (ENOENT).
    assert_eq!(
        lossy(&s.cmd("json plugin/list")),
        "0000 DATA END WITH '.'\n{\"plugins\":[]}\n.\n1002 No such file or directory\n\nvde$ "
    );

    // The MAC table.
    let v = json_of(&mut s, "hash/showinfo");
    assert_eq!(
        text_of(&mut s, "hash/showinfo"),
        "Hash size 128\nGC interval 2 secs\nGC expire 200 secs\nMin persistence 3 secs\n"
    );
    for (k, want) in [
        ("size", 128),
        ("gc_interval", 2),
        ("expire", 200),
        ("min_persistence", 3),
        ("entries", 2),
        ("capacity", 65536),
        ("unlearned", 0),
    ] {
        assert_eq!(v[k], want, "hash/showinfo {k}: {v}");
    }
    let mut entries: Vec<(String, u64, u64)> = json_of(&mut s, "hash/print")["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["age"].is_i64(), "{e}");
            (
                e["mac"].as_str().unwrap().to_string(),
                e["vlan"].as_u64().unwrap(),
                e["port"].as_u64().unwrap(),
            )
        })
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            ("02:00:00:00:00:0a".to_string(), 0, pa),
            ("02:00:00:00:00:0b".to_string(), 0, pb)
        ]
    );
    assert_eq!(
        text_of(&mut s, "hash/print").lines().count(),
        2,
        "the text form has the same entries"
    );
    let v = json_of(&mut s, "hash/find 02:00:00:00:00:0b");
    assert_eq!(
        (v["mac"].as_str(), v["vlan"].as_u64(), v["port"].as_u64()),
        (Some("02:00:00:00:00:0b"), Some(0), Some(pb))
    );

    // FSTP (off here).
    assert_eq!(
        json_of(&mut s, "fstp/showinfo"),
        json!({ "mac": mac_text, "priority": 32768, "fstp": false })
    );
    let v = json_of(&mut s, "fstp/print");
    let mut active = vec![pa, pb];
    active.sort();
    let vlans = v["vlans"].as_array().expect("fstp/print vlans");
    assert_eq!(vlans.len(), 2, "{v}");
    for (row, (id, ports)) in vlans.iter().zip([(0, active.clone()), (10, vec![])]) {
        assert_eq!(row["vlan"], json!(id), "{v}");
        assert_eq!(row["fstp"], json!(false), "{v}");
        assert_eq!(row["root"], json!(true), "{v}");
        assert_eq!(row["root_port"], json!(0), "{v}");
        assert_eq!(row["root_id"], json!(format!("80:00:{mac_text}")), "{v}");
        let got: Vec<u64> = row["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .map(|p| {
                assert_eq!(p["role"], json!("Designated"), "{v}");
                assert_eq!(p["forwarding"], json!(true), "{v}");
                p["port"].as_u64().expect("port number")
            })
            .collect();
        assert_eq!(got, ports, "{v}");
    }
    assert_eq!(
        json_of(&mut s, "fstp/setfstp 0"),
        json!({ "fstp": false, "message": "" })
    );

    // Ports.
    assert_eq!(
        json_of(&mut s, "port/showinfo"),
        json!({ "numports": 32, "hub": false, "counters": true })
    );
    let v = json_of(&mut s, "port/print");
    let text = text_of(&mut s, "port/print");
    let ports = v["ports"].as_array().unwrap();
    assert_eq!(
        ports
            .iter()
            .map(|p| p["port"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [pa, pb]
    );
    for (p, frames_in, bytes_in, frames_out, bytes_out) in
        [(pa, 1, 60, 1, 100), (pb, 1, 100, 1, 60)]
    {
        let j = ports.iter().find(|x| x["port"] == p).unwrap();
        assert_eq!(
            j["in"],
            json!({ "pkts": frames_in, "bytes": bytes_in }),
            "{j}"
        );
        assert_eq!(
            j["out"],
            json!({ "pkts": frames_out, "bytes": bytes_out }),
            "{j}"
        );
        assert_eq!(j["active"], true);
        assert_eq!(j["untagged_vlan"], 0);
        assert_eq!(j["current_user"], "root");
        let eps = j["endpoints"].as_array().unwrap();
        assert_eq!(eps.len(), 1, "{j}");
        assert_eq!(eps[0]["module"], "unix prog");
        let descr = eps[0]["description"].as_str().unwrap();
        assert!(descr.starts_with("vdeplug: user=root pid="), "{descr}");
        assert!(
            text.contains(descr),
            "the text form shows {descr:?}: {text}"
        );
        assert!(
            text.contains(&format!(
                "Port {p:04} untagged_vlan=0000 ACTIVE - Unnamed Allocatable\n"
            )),
            "{text}"
        );
        assert_eq!(
            j["drops"],
            json!({ "runts": 0, "oversize": 0, "vlan": 0, "send": 0, "unlearned": 0 })
        );
    }
    let v = json_of(&mut s, "port/allprint 5");
    let p5 = &v["ports"][0];
    assert_eq!(
        (
            &p5["port"],
            &p5["active"],
            &p5["untagged_vlan"],
            &p5["endpoints"]
        ),
        (&json!(5), &json!(false), &json!(10), &json!([]))
    );
    // port/stats: every allocated port (the text form's lines), or one.
    let mut listed: Vec<u64> = json_of(&mut s, "port/stats")["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    listed.sort();
    let mut allocated = vec![pa, pb, 5];
    allocated.sort();
    assert_eq!(listed, allocated);
    assert_eq!(text_of(&mut s, "port/stats").lines().count(), 3);
    let v = json_of(&mut s, &format!("port/stats {pa}"));
    assert_eq!(v["ports"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["ports"][0]["port"], pa);
    let v = json_of(&mut s, "port/createauto");
    let created = v["port"].as_u64().expect("a port number");
    assert!(
        text_of(&mut s, &format!("port/allprint {created}"))
            .starts_with(&format!("Port {created:04} untagged_vlan=0000 INACTIVE")),
        "port/createauto made port {created}"
    );

    // VLANs.
    let v = json_of(&mut s, "vlan/print");
    assert_eq!(v["vlans"][0]["vlan"], 0);
    let mut members: Vec<u64> = v["vlans"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!((&m["tagged"], &m["active"]), (&json!(false), &json!(true)));
            m["port"].as_u64().unwrap()
        })
        .collect();
    members.sort();
    assert_eq!(members, active);
    assert_eq!(v["vlans"][1], json!({ "vlan": 10, "ports": [] }));
    let v = json_of(&mut s, "vlan/allprint 10");
    assert_eq!(
        v,
        json!({ "vlans": [ { "vlan": 10, "ports": [ { "port": 5, "tagged": false, "active": false, "discarding": false } ] } ] })
    );

    // Errors: as the text form gives them; commands without data are not JSON commands.
    for (cmd, text_cmd) in [
        ("json port/print 40", "port/print 40"),
        ("json hash/find zz", "hash/find zz"),
        (
            "json hash/find 02:00:00:00:00:99",
            "hash/find 02:00:00:00:00:99",
        ),
        ("json vlan/print 33", "vlan/print 33"),
    ] {
        let status = status_of(&mut s, cmd);
        assert_eq!(status, status_of(&mut s, text_cmd), "{cmd}");
        assert!(!status.starts_with("1000"), "{cmd}: {status}");
    }
    for cmd in [
        "json",
        "json nosuchcmd",
        "json port/sethub 1",
        "json vlan/create 11",
    ] {
        assert_eq!(status_of(&mut s, cmd), "1022 Invalid argument", "{cmd}");
    }
    // ... and change nothing.
    assert_eq!(
        text_of(&mut s, "port/showinfo"),
        "Numports=32\nHUB=false\ncounters=true\n"
    );
    assert_eq!(
        status_of(&mut s, "vlan/print 11"),
        "1006 No such device or address",
        "`json vlan/create 11` created the VLAN"
    );
}
