use super::*;
use proptest::prelude::*;

fn errors(text: &str) -> Vec<ConfError> {
    parse(text).expect_err("expected mistakes")
}

/// The one mistake in `text`: (line, message).
fn one(text: &str) -> (Option<usize>, String) {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:#?}");
    (e[0].line, format!("{}", e[0]))
}

#[test]
fn netkit_lab() {
    let lab = parse(
        "# a Netkit lab\n\
         LAB_DESCRIPTION=\"Two hosts\"\n\
         LAB_AUTHOR=someone\n\
         \n\
         pc1[0]=A\n\
         pc1[1]=\"B\"\n\
         pc1[mem]=128\n\
         pc2[0]=A   # same domain\n\
         r1[0]=B/02:00:00:00:00:0a\n",
    )
    .unwrap();
    assert_eq!(lab.meta("LAB_DESCRIPTION"), Some("Two hosts"));
    let names: Vec<&str> = lab.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["pc1", "pc2", "r1"]);
    let doms: Vec<&str> = lab.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(doms, ["A", "B"]);
    let pc1 = lab.host("pc1").unwrap();
    assert_eq!(pc1.mem, Some(128));
    assert_eq!(pc1.ifaces.len(), 2);
    assert_eq!(pc1.ifaces[1].domain, "B");
    assert_eq!(pc1.ifaces[0].transport, Transport::Vde);
    let r1 = lab.host("r1").unwrap();
    assert_eq!(r1.ifaces[0].mac.unwrap().to_string(), "02:00:00:00:00:0a");
    let on_a: Vec<&str> = lab.members("A").map(|(h, _)| h.name.as_str()).collect();
    assert_eq!(on_a, ["pc1", "pc2"]);
    assert!(lab.warnings.is_empty());
}

#[test]
fn extensions() {
    let lab = parse(
        "h1[0]=A\n\
         h1[0][vlan]=10\n\
         h1[0][mac]=02:00:00:00:00:01\n\
         h2[0]=A\n\
         h2[0][transport]=daemon\n\
         h2[disk]=data.ext4,64M\n\
         h2[env]=ROLE=client\n\
         h3[0]=hub1\n\
         domain[hub1][hub]=yes\n\
         domain[A][ports]=8\n\
         domain[A][rc]=a.rc\n",
    )
    .unwrap();
    let h1 = lab.host("h1").unwrap();
    assert_eq!(h1.ifaces[0].vlan, Some(10));
    assert!(h1.ifaces[0].mac.is_some());
    let h2 = lab.host("h2").unwrap();
    assert_eq!(h2.ifaces[0].transport, Transport::Daemon);
    assert_eq!(h2.env, ["ROLE=client"]);
    assert_eq!(h2.disks.len(), 1);
    assert!(lab.domain("hub1").unwrap().hub);
    let a = lab.domain("A").unwrap();
    assert_eq!(
        (a.ports, a.rc.as_deref()),
        (Some(8), Some(Path::new("a.rc")))
    );
    // Options may come before the interface they refine.
    assert!(parse("h1[0][vlan]=10\nh1[0]=A\n").is_ok());
}

#[test]
fn typos_are_refused_with_a_suggestion() {
    let (l, m) = one("h1[0]=A\nh1[mme]=128\n");
    assert_eq!(l, Some(2));
    assert!(m.contains("did you mean `h1[mem]`"), "{m}");
    let (_, m) = one("LAB_DESCRIPTON=x\nh1[0]=A\n");
    assert!(m.contains("did you mean `LAB_DESCRIPTION`"), "{m}");
    let (_, m) = one("h1[0]=A\nh1[0][vlna]=3\n");
    assert!(m.contains("did you mean `h1[0][vlan]`"), "{m}");
    let (_, m) = one("h1[0]=A\ndomain[A][hbu]=yes\n");
    assert!(m.contains("did you mean `domain[A][hub]`"), "{m}");
    let (_, m) = one("h1[0]=A\ndomain[a][hub]=yes\n");
    assert!(m.contains("no interface is on collision domain a"), "{m}");
    assert!(m.contains("did you mean `A`"), "{m}");
    let (_, m) = one("h1[0]=A\nh1[eth1]=B\n");
    assert!(m.contains("write h1[1]=B"), "{m}");
    let (_, m) = one("host1[0]=A\nhost2[0][vlan]=3\n");
    assert!(m.contains("there is no host host2"), "{m}");
    let (_, m) = one("h1[0]=A\nh1[1][vlan]=3\n");
    assert!(m.contains("h1 has no interface 1"), "{m}");
}

#[test]
fn bad_values_and_conflicts() {
    let (l, m) = one("h1[0]=A\nh1[mem]=32\n");
    assert_eq!(l, Some(2));
    assert!(m.contains("64"), "{m}");
    let (_, m) = one("h1[0]=A\nh1[0]=B\n");
    assert!(m.contains("first on line 1"), "{m}");
    let (_, m) = one("h1[0]=A\nh1[0][transport]=daemon\nh1[0][vlan]=5\n");
    assert!(m.contains("daemon transport"), "{m}");
    let (_, m) = one("h1[0]=A\ndomain[A][hub]=yes\nh1[0][vlan]=5\n");
    assert!(m.contains("is a hub"), "{m}");
    let (_, m) = one("h1[0]=A/02:00:00:00:00:01\nh2[0]=A/02:00:00:00:00:01\n");
    assert!(m.contains("also h1[0]'s"), "{m}");
    let (_, m) = one("h1[0]=A\nh2[0]=A\nh3[0]=A\ndomain[A][ports]=3\n");
    assert!(m.contains("domain[A][ports]=4"), "{m}");
    let (_, m) = one("h1[0]=A\nh1[bridged]=true\n");
    assert!(m.contains("not supported"), "{m}");
    let (_, m) = one("domain[0]=A\n");
    assert!(m.contains("two parts"), "{m}");
    let (_, m) = one("shared[0]=A\n");
    assert!(m.contains("shared.startup"), "{m}");
    let (_, m) = one("LAB_AUTHOR=x\n");
    assert!(m.contains("no host"), "{m}");
    let (_, m) = one("h1[0]=A\nh1[disk]=d.ext4,1M\nh1[disk]=d.ext4,2M\n");
    assert!(m.contains("two disks"), "{m}");
    // Every mistake is reported at once, in line order.
    let e = errors("h1[mme]=1\nh1[0]=A\nh1[0][vlan]=9999\nnonsense\n");
    let lines: Vec<Option<usize>> = e.iter().map(|e| e.line).collect();
    assert_eq!(lines, [Some(1), Some(3), Some(4)]);
}

#[test]
fn impairments_are_checked() {
    let lab = parse("h1[0]=A\nh1[0][impair]=in delay 50ms loss 5%\n").unwrap();
    assert_eq!(lab.hosts[0].ifaces[0].impair[0].words, "delay 50ms loss 5%");
    let (l, m) = one("h1[0]=A\nh1[0][transport]=daemon\nh1[0][impair]=delay 50ms\n");
    assert_eq!(l, Some(3));
    assert!(m.contains("impairments need the vde transport"), "{m}");
    let (_, m) = one("h1[0]=A\nh1[0][impair]=delay 50ms los 5%\n");
    assert!(m.contains("unknown impairment"), "{m}");
}

#[test]
fn warnings_for_likely_mistakes() {
    let lab = parse("h1[0]=lan\nh2[0]=LAN\n").unwrap();
    assert_eq!(lab.warnings.len(), 1, "{:?}", lab.warnings);
}

#[test]
fn files_are_checked() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::write(d.join("h1.startup"), "").unwrap();
    std::fs::write(d.join("shared.startup"), "").unwrap();
    std::fs::write(d.join("hl.startup"), "").unwrap();
    std::fs::write(d.join("a.rc"), "").unwrap();
    let lab =
        parse("h1[0]=A\nh1[image]=missing.ext4\ndomain[A][rc]=a.rc\nh1[disk]=base.ext4\n").unwrap();
    let e = check_files(&lab, d);
    let text: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert_eq!(e.len(), 3, "{text:#?}");
    assert!(text[0].contains("missing.ext4"));
    assert!(text[1].contains("base.ext4"));
    assert!(text[2].contains("hl.startup") && text[2].contains("did you mean `h1.startup`"));
}

proptest! {
    /// Any text: a lab or a list of mistakes, never a panic; every mistake has text.
    #[test]
    fn never_panics(text in "(([a-zA-Z0-9_]{0,4}(\\[[a-z0-9]{0,5}\\]){0,3}=[ -~]{0,12})?\n){0,8}") {
        match parse(&text) {
            Ok(lab) => prop_assert!(!lab.hosts.is_empty()),
            Err(e) => prop_assert!(e.iter().all(|e| !e.what.is_empty())),
        }
    }

    /// Interfaces written out are read back.
    #[test]
    fn interfaces_round_trip(links in proptest::collection::vec((0u8..5, 0u32..4, 0u8..3), 1..12)) {
        let mut text = String::new();
        let mut want: BTreeMap<(String, u32), String> = BTreeMap::new();
        for (h, n, d) in links {
            let key = (format!("h{h}"), n);
            if want.contains_key(&key) { continue; }
            want.insert(key, format!("D{d}"));
            text.push_str(&format!("h{h}[{n}]=D{d}\n"));
        }
        let lab = parse(&text).unwrap();
        let mut got = BTreeMap::new();
        for h in &lab.hosts {
            for i in &h.ifaces {
                got.insert((h.name.clone(), i.index), i.domain.clone());
            }
        }
        prop_assert_eq!(got, want);
    }
}
