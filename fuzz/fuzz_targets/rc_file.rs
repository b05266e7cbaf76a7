//! rc files and `load` scripts as the switch reads them: any bytes in a file give lines of at
//! most MAX_LINE bytes (longer ones skipped whole), never more than the file holds, and
//! running the file as an rc file on a fabric does not panic.
#![no_main]

use std::io::Write;
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use vdeswitch::fabric::Fabric;
use vdeswitch::server::console::script::{Line, Script, MAX_LINE};
use vdeswitch::server::console::{self, Ctx, Effect, FstpCtl, Host, Info};

struct Plain {
    fabric: Fabric,
    fstp: FstpCtl,
    info: Info,
}

impl Host for Plain {
    fn ctx(&mut self) -> Ctx<'_> {
        Ctx::new(&mut self.fabric, &mut self.fstp, &self.info, 0, None)
    }
    fn apply(&mut self, effect: Effect) {
        if let Effect::CloseEndpoint { port, id } = effect {
            let _ = self.fabric.detach(port, id);
        }
    }
}

fn scratch() -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    PathBuf::from(dir).join(format!("vde-fuzz-rc-{}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(data))
        .unwrap();
    let mut s = Script::open(&path).unwrap();
    let mut total = 0;
    let mut texts = Vec::new();
    while let Some(line) = s.next_line() {
        match line.unwrap() {
            Line::Text(t) => {
                let body = t.strip_suffix('\n').unwrap_or(&t);
                assert!(
                    body.len() <= MAX_LINE * 3,
                    "lossy UTF-8 at most triples a line"
                );
                assert!(!body.contains('\n'));
                total += 1;
                texts.push(t);
            }
            Line::TooLong => total += 1,
        }
        assert!(total <= data.len(), "more lines than bytes");
    }
    // Without long lines the text lines are the file, in order.
    if texts.len() == total {
        assert_eq!(texts.concat(), String::from_utf8_lossy(data));
    }
    let mut host = Plain {
        fabric: Fabric::new(8, false, 16, 64),
        fstp: FstpCtl::new(vdeswitch::fstp::Fstp::new(
            vde_protocol::MacAddr([0, 0xff, 1, 2, 3, 4]),
            0x8000,
            false,
            0,
        )),
        info: Info {
            pid: 1,
            mac: vde_protocol::MacAddr([0, 0xff, 1, 2, 3, 4]),
            priority: 0x8000,
            mgmt: None,
            ctl_dir: PathBuf::from("/tmp/fuzz"),
            ctl_mode: 0o600,
            vxlan: Default::default(),
        },
    };
    let _ = console::run_rc_file(&mut host, &path);
    let _ = std::fs::remove_file(&path);
});
