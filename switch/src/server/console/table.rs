//! The command table, in the reference's order (which is also `help`'s order).

use super::{
    cmd_debug as debug, cmd_fstp as fstp, cmd_misc as misc, cmd_plugin as plugin, cmd_port as port,
    cmd_vlan as vlan, CmdResult,
};
use crate::server::Server;

pub type Handler = fn(&mut Server, &str, &mut String) -> CmdResult;

#[derive(Clone, Copy)]
pub enum Action {
    /// A menu header: listed by `help`, never executed.
    Menu,
    Run(Handler),
    Logout,
    Shutdown,
}

#[derive(Clone, Copy)]
pub struct CommandSpec {
    pub path: &'static str,
    pub syntax: &'static str,
    pub help: &'static str,
    /// Whether the output is a `0000 DATA END WITH '.'` block.
    pub data: bool,
    pub action: Action,
}

const fn menu(path: &'static str, help: &'static str) -> CommandSpec {
    CommandSpec {
        path,
        syntax: "============",
        help,
        data: false,
        action: Action::Menu,
    }
}

const fn cmd(
    path: &'static str,
    syntax: &'static str,
    help: &'static str,
    data: bool,
    f: Handler,
) -> CommandSpec {
    CommandSpec {
        path,
        syntax,
        help,
        data,
        action: Action::Run(f),
    }
}

pub static TABLE: &[CommandSpec] = &[
    menu("ds", "DATA SOCKET MENU"),
    cmd("ds/showinfo", "", "show ds info", true, misc::ds_showinfo),
    cmd(
        "help",
        "[arg]",
        "Help (limited to arg when specified)",
        true,
        misc::help,
    ),
    CommandSpec {
        path: "logout",
        syntax: "",
        help: "logout from this mgmt terminal",
        data: false,
        action: Action::Logout,
    },
    CommandSpec {
        path: "shutdown",
        syntax: "",
        help: "shutdown of the switch",
        data: false,
        action: Action::Shutdown,
    },
    cmd(
        "showinfo",
        "",
        "show switch version and info",
        true,
        misc::showinfo,
    ),
    cmd(
        "load",
        "path",
        "load a configuration script",
        false,
        misc::load,
    ),
    menu("debug", "DEBUG MENU"),
    cmd("debug/list", "", "list debug categories", true, debug::list),
    cmd(
        "debug/add",
        "dbgpath",
        "enable debug info for a given category",
        false,
        debug::add,
    ),
    cmd(
        "debug/del",
        "dbgpath",
        "disable debug info for a given category",
        false,
        debug::del,
    ),
    menu("plugin", "PLUGINS MENU"),
    cmd("plugin/list", "", "list plugins", true, plugin::list),
    cmd("plugin/add", "library", "load a plugin", false, plugin::add),
    cmd("plugin/del", "name", "unload a plugin", false, plugin::del),
    menu("hash", "HASH TABLE MENU"),
    cmd(
        "hash/showinfo",
        "",
        "show hash info",
        true,
        misc::hash_showinfo,
    ),
    cmd(
        "hash/setsize",
        "N",
        "change hash size",
        false,
        misc::hash_setsize,
    ),
    cmd(
        "hash/setgcint",
        "N",
        "change garbage collector interval",
        false,
        misc::hash_setgcint,
    ),
    cmd(
        "hash/setexpire",
        "N",
        "change hash entries expire time",
        false,
        misc::hash_setexpire,
    ),
    cmd(
        "hash/setminper",
        "N",
        "minimum persistence time",
        false,
        misc::hash_setminper,
    ),
    cmd(
        "hash/print",
        "",
        "print the hash table",
        true,
        misc::hash_print,
    ),
    cmd(
        "hash/find",
        "MAC [VLAN]",
        "MAC lookup",
        true,
        misc::hash_find,
    ),
    menu("fstp", "FAST SPANNING TREE MENU"),
    cmd("fstp/showinfo", "", "show fstp info", true, fstp::showinfo),
    cmd(
        "fstp/setfstp",
        "0/1",
        "Fast spanning tree protocol 1=ON 0=OFF",
        true,
        fstp::setfstp,
    ),
    cmd(
        "fstp/setedge",
        "VLAN PORT 1/0",
        "Define an edge port for a vlan 1=Y 0=N",
        false,
        fstp::setedge,
    ),
    cmd(
        "fstp/bonus",
        "VLAN PORT COST",
        "set the port bonus for a vlan",
        false,
        fstp::bonus,
    ),
    cmd(
        "fstp/print",
        "[N]",
        "print fst data for the defined vlan",
        true,
        fstp::print,
    ),
    menu("port", "PORT STATUS MENU"),
    cmd("port/showinfo", "", "show port info", true, port::showinfo),
    cmd(
        "port/setnumports",
        "N",
        "set the number of ports",
        false,
        port::setnumports,
    ),
    cmd("port/sethub", "0/1", "1=HUB 0=switch", false, port::sethub),
    cmd(
        "port/setvlan",
        "N VLAN",
        "set port VLAN (untagged)",
        false,
        port::setvlan,
    ),
    cmd(
        "port/createauto",
        "",
        "create a port with an automatically allocated id (inactive|notallocatable)",
        true,
        port::createauto,
    ),
    cmd(
        "port/create",
        "N",
        "create the port N (inactive|notallocatable)",
        false,
        port::create,
    ),
    cmd("port/remove", "N", "remove the port N", false, port::remove),
    cmd(
        "port/allocatable",
        "N 0/1",
        "Is the port allocatable as unnamed? 1=Y 0=N",
        false,
        port::allocatable,
    ),
    cmd(
        "port/setuser",
        "N user",
        "access control: set user",
        false,
        port::setuser,
    ),
    // "N user" for setgroup is the reference's text.
    cmd(
        "port/setgroup",
        "N user",
        "access control: set group",
        false,
        port::setgroup,
    ),
    cmd(
        "port/epclose",
        "N ID",
        "remove the endpoint port N/id ID",
        false,
        port::epclose,
    ),
    cmd(
        "port/resetcounter",
        "[N]",
        "reset the port (N) counters",
        false,
        port::resetcounter,
    ),
    cmd(
        "port/print",
        "[N]",
        "print the port/endpoint table",
        true,
        port::print,
    ),
    cmd(
        "port/allprint",
        "[N]",
        "print the port/endpoint table (including inactive port)",
        true,
        port::allprint,
    ),
    cmd(
        "port/stats",
        "[N]",
        "per-port drop counters: runts, oversize, vlan, send, unlearned",
        true,
        port::stats,
    ),
    menu("vlan", "VLAN MANAGEMENT MENU"),
    cmd(
        "vlan/create",
        "N",
        "create the VLAN with tag N",
        false,
        vlan::create,
    ),
    cmd(
        "vlan/remove",
        "N",
        "remove the VLAN with tag N",
        false,
        vlan::remove,
    ),
    cmd(
        "vlan/addport",
        "N PORT",
        "add port to the vlan N (tagged)",
        false,
        vlan::addport,
    ),
    // The reference's help text for delport really is the addport one.
    cmd(
        "vlan/delport",
        "N PORT",
        "add port to the vlan N (tagged)",
        false,
        vlan::delport,
    ),
    cmd(
        "vlan/print",
        "[N]",
        "print the list of defined vlan",
        true,
        vlan::print,
    ),
    cmd(
        "vlan/allprint",
        "[N]",
        "print the list of defined vlan (including inactive port)",
        true,
        vlan::allprint,
    ),
    // Our extension, last so the reference's rows keep their places.
    cmd(
        "json",
        "COMMAND [ARGS]",
        "output of a data command as one JSON document",
        true,
        super::json::run,
    ),
];
