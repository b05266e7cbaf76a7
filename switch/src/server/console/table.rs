//! The command table, in the reference's order (which is also `help`'s order).

use super::view::Show;
use super::{
    cmd_debug as debug, cmd_edges as edges, cmd_fstp as fstp, cmd_misc as misc,
    cmd_plugin as plugin, cmd_port as port, cmd_vlan as vlan, cmd_vxlan as vxlan, CmdResult, Ctx,
};

/// A command without data: its status is all it answers.
pub type Handler = fn(&mut Ctx<'_>, &str) -> CmdResult;

#[derive(Clone, Copy)]
pub enum Action {
    /// A menu header: listed by `help`, never executed.
    Menu,
    /// A command answering with its status only.
    Run(Handler),
    /// A data command: a `0000 DATA END WITH '.'` block, then the status.
    Show(Show),
    /// `load PATH`: runs a script, echoing its lines (only from a session).
    Load,
    /// `json CMD [ARGS]`: a data command's view as JSON.
    Json,
    Logout,
    Shutdown,
}

#[derive(Clone, Copy)]
pub struct CommandSpec {
    pub path: &'static str,
    pub syntax: &'static str,
    pub help: &'static str,
    pub action: Action,
}

impl CommandSpec {
    /// Whether the answer has a data block.
    pub fn has_data(&self) -> bool {
        matches!(self.action, Action::Show(_) | Action::Json)
    }
}

const fn menu(path: &'static str, help: &'static str) -> CommandSpec {
    CommandSpec {
        path,
        syntax: "============",
        help,
        action: Action::Menu,
    }
}

const fn run(
    path: &'static str,
    syntax: &'static str,
    help: &'static str,
    f: Handler,
) -> CommandSpec {
    CommandSpec {
        path,
        syntax,
        help,
        action: Action::Run(f),
    }
}

const fn show(
    path: &'static str,
    syntax: &'static str,
    help: &'static str,
    f: Show,
) -> CommandSpec {
    CommandSpec {
        path,
        syntax,
        help,
        action: Action::Show(f),
    }
}

const fn special(
    path: &'static str,
    syntax: &'static str,
    help: &'static str,
    action: Action,
) -> CommandSpec {
    CommandSpec {
        path,
        syntax,
        help,
        action,
    }
}

pub static TABLE: &[CommandSpec] = &[
    menu("ds", "DATA SOCKET MENU"),
    show("ds/showinfo", "", "show ds info", misc::ds_showinfo),
    show(
        "ds/admission",
        "",
        "pending handshakes, sessions and streams held, and their caps",
        misc::ds_admission,
    ),
    show(
        "help",
        "[arg]",
        "Help (limited to arg when specified)",
        misc::help,
    ),
    special(
        "logout",
        "",
        "logout from this mgmt terminal",
        Action::Logout,
    ),
    special("shutdown", "", "shutdown of the switch", Action::Shutdown),
    show(
        "showinfo",
        "",
        "show switch version and info",
        misc::showinfo,
    ),
    special("load", "path", "load a configuration script", Action::Load),
    menu("debug", "DEBUG MENU"),
    show("debug/list", "", "list debug categories", debug::list),
    run(
        "debug/add",
        "dbgpath",
        "enable debug info for a given category",
        debug::add,
    ),
    run(
        "debug/del",
        "dbgpath",
        "disable debug info for a given category",
        debug::del,
    ),
    menu("plugin", "PLUGINS MENU"),
    show("plugin/list", "", "list plugins", plugin::list),
    run("plugin/add", "library", "load a plugin", plugin::add),
    run("plugin/del", "name", "unload a plugin", plugin::del),
    menu("hash", "HASH TABLE MENU"),
    show("hash/showinfo", "", "show hash info", misc::hash_showinfo),
    run("hash/setsize", "N", "change hash size", misc::hash_setsize),
    run(
        "hash/setgcint",
        "N",
        "change garbage collector interval",
        misc::hash_setgcint,
    ),
    run(
        "hash/setexpire",
        "N",
        "change hash entries expire time",
        misc::hash_setexpire,
    ),
    run(
        "hash/setminper",
        "N",
        "minimum persistence time",
        misc::hash_setminper,
    ),
    show("hash/print", "", "print the hash table", misc::hash_print),
    show("hash/find", "MAC [VLAN]", "MAC lookup", misc::hash_find),
    menu("fstp", "FAST SPANNING TREE MENU"),
    show("fstp/showinfo", "", "show fstp info", fstp::showinfo),
    show(
        "fstp/setfstp",
        "0/1",
        "Fast spanning tree protocol 1=ON 0=OFF",
        fstp::setfstp,
    ),
    run(
        "fstp/setedge",
        "VLAN PORT 1/0",
        "Define an edge port for a vlan 1=Y 0=N",
        fstp::setedge,
    ),
    run(
        "fstp/bonus",
        "VLAN PORT COST",
        "set the port bonus for a vlan",
        fstp::bonus,
    ),
    show(
        "fstp/print",
        "[N]",
        "print fst data for the defined vlan",
        fstp::print,
    ),
    menu("port", "PORT STATUS MENU"),
    show("port/showinfo", "", "show port info", port::showinfo),
    run(
        "port/setnumports",
        "N",
        "set the number of ports",
        port::setnumports,
    ),
    run("port/sethub", "0/1", "1=HUB 0=switch", port::sethub),
    run(
        "port/setvlan",
        "N VLAN",
        "set port VLAN (untagged)",
        port::setvlan,
    ),
    show(
        "port/createauto",
        "",
        "create a port with an automatically allocated id (inactive|notallocatable)",
        port::createauto,
    ),
    run(
        "port/create",
        "N",
        "create the port N (inactive|notallocatable)",
        port::create,
    ),
    run("port/remove", "N", "remove the port N", port::remove),
    run(
        "port/allocatable",
        "N 0/1",
        "Is the port allocatable as unnamed? 1=Y 0=N",
        port::allocatable,
    ),
    run(
        "port/setuser",
        "N user",
        "access control: set user",
        port::setuser,
    ),
    // "N user" for setgroup is the reference's text.
    run(
        "port/setgroup",
        "N user",
        "access control: set group",
        port::setgroup,
    ),
    run(
        "port/epclose",
        "N ID",
        "remove the endpoint port N/id ID",
        port::epclose,
    ),
    run(
        "port/resetcounter",
        "[N]",
        "reset the port (N) counters",
        port::resetcounter,
    ),
    show(
        "port/print",
        "[N]",
        "print the port/endpoint table",
        port::print,
    ),
    show(
        "port/allprint",
        "[N]",
        "print the port/endpoint table (including inactive port)",
        port::allprint,
    ),
    show(
        "port/stats",
        "[N]",
        "per-port drop counters: runts, oversize, vlan, send, unlearned",
        port::stats,
    ),
    // Ours: trunks, and what happens at a port's edge besides forwarding.
    run(
        "port/settrunk",
        "N 1/0",
        "1=the port carries every VLAN tagged, even ones never created",
        port::settrunk,
    ),
    show(
        "port/capture",
        "N|all PATH|off",
        "capture frames entering or leaving port N to PATH, pcap (all: pcapng); FIFO ok; list",
        edges::capture,
    ),
    show(
        "port/mirror",
        "[N DST|off]",
        "copy every frame entering or leaving port N to port DST; list",
        edges::mirror,
    ),
    show(
        "port/impair",
        "[N DIR WORDS]",
        "impair port N, DIR in|out|both: netem words delay loss duplicate corrupt reorder rate limit; off; list",
        edges::impair,
    ),
    menu("vlan", "VLAN MANAGEMENT MENU"),
    run(
        "vlan/create",
        "N",
        "create the VLAN with tag N",
        vlan::create,
    ),
    run(
        "vlan/remove",
        "N",
        "remove the VLAN with tag N",
        vlan::remove,
    ),
    run(
        "vlan/addport",
        "N PORT",
        "add port to the vlan N (tagged)",
        vlan::addport,
    ),
    // The reference's help text for delport really is the addport one.
    run(
        "vlan/delport",
        "N PORT",
        "add port to the vlan N (tagged)",
        vlan::delport,
    ),
    show(
        "vlan/print",
        "[N]",
        "print the list of defined vlan",
        vlan::print,
    ),
    show(
        "vlan/allprint",
        "[N]",
        "print the list of defined vlan (including inactive port)",
        vlan::allprint,
    ),
    // Our extensions, last so the reference's rows keep their places.
    menu("vxlan", "VXLAN UPLINKS (not in VDE 2.3.2)"),
    show(
        "vxlan/add",
        "SPEC",
        "add an uplink: vni=N,local=ADDR,remote=ADDR[,..] or vni=N,group=ADDR,dev=IF",
        vxlan::add,
    ),
    run("vxlan/del", "PORT", "remove the uplink on PORT", vxlan::del),
    show(
        "vxlan/print",
        "",
        "list the uplinks, their counters and learned MACs",
        vxlan::print,
    ),
    special(
        "json",
        "COMMAND [ARGS]",
        "output of a data command as one JSON document",
        Action::Json,
    ),
];
