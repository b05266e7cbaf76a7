//! User and group database look-ups, for port ACLs and their display.

use nix::unistd::{Gid, Group, Uid, User};

/// A user's name, if the database knows the uid.
pub fn user_name(uid: u32) -> Option<String> {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// A group's name, if the database knows the gid.
pub fn group_name(gid: u32) -> Option<String> {
    Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
}

/// The uid of a user name.
pub fn uid_by_name(name: &[u8]) -> Option<u32> {
    let name = std::str::from_utf8(name).ok()?;
    User::from_name(name).ok().flatten().map(|u| u.uid.as_raw())
}

/// The gid of a group name.
pub fn gid_by_name(name: &[u8]) -> Option<u32> {
    let name = std::str::from_utf8(name).ok()?;
    Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

/// Primary and supplementary groups of a uid, for port group ACLs.
pub fn user_groups(uid: u32) -> Vec<u32> {
    let Some(user) = User::from_uid(Uid::from_raw(uid)).ok().flatten() else {
        return Vec::new();
    };
    let Ok(name) = std::ffi::CString::new(user.name.as_bytes()) else {
        return vec![user.gid.as_raw()];
    };
    match nix::unistd::getgrouplist(&name, user.gid) {
        Ok(groups) => groups.into_iter().map(Gid::as_raw).collect(),
        Err(_) => vec![user.gid.as_raw()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_known() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(uid_by_name(b"root"), Some(0));
        assert_eq!(group_name(0).as_deref(), Some("root"));
        assert_eq!(gid_by_name(b"root"), Some(0));
        assert!(user_groups(0).contains(&0));
        assert_eq!(uid_by_name(b"no such user here"), None);
    }
}
