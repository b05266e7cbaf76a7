//! User and group database look-ups (getpw*_r, getgr*_r, getgrouplist), in
//! one place, with the ERANGE retry the reentrant calls need.

use std::ffi::{CStr, CString};

/// Call a `get*_r` function with a growing buffer until it fits.
fn with_buffer<T>(
    mut call: impl FnMut(&mut [libc::c_char]) -> (libc::c_int, Option<T>),
) -> Option<T> {
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        let (rc, value) = call(&mut buf);
        if rc == libc::ERANGE && buf.len() < (1 << 22) {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        return if rc == 0 { value } else { None };
    }
}

fn passwd_by_uid<T>(uid: u32, read: impl Fn(&libc::passwd) -> T) -> Option<T> {
    with_buffer(|buf| {
        // SAFETY: zeroed passwd is valid; getpwuid_r writes only into pwd and buf.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut res) };
        (rc, (!res.is_null()).then(|| read(&pwd)))
    })
}

/// A user's name, if the database knows the uid.
pub fn user_name(uid: u32) -> Option<String> {
    // SAFETY: pw_name points into the buffer, valid during the callback.
    passwd_by_uid(uid, |p| {
        unsafe { CStr::from_ptr(p.pw_name) }
            .to_string_lossy()
            .into_owned()
    })
}

/// A group's name, if the database knows the gid.
pub fn group_name(gid: u32) -> Option<String> {
    with_buffer(|buf| {
        // SAFETY: zeroed group is valid; getgrgid_r writes only into grp and buf.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe { libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut res) };
        // SAFETY: gr_name points into buf, alive here.
        let name = (!res.is_null()).then(|| {
            unsafe { CStr::from_ptr(grp.gr_name) }
                .to_string_lossy()
                .into_owned()
        });
        (rc, name)
    })
}

/// The uid of a user name.
pub fn uid_by_name(name: &[u8]) -> Option<u32> {
    let c = CString::new(name).ok()?;
    with_buffer(|buf| {
        // SAFETY: as in passwd_by_uid.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwnam_r(c.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut res)
        };
        (rc, (!res.is_null()).then_some(pwd.pw_uid))
    })
}

/// The gid of a group name.
pub fn gid_by_name(name: &[u8]) -> Option<u32> {
    let c = CString::new(name).ok()?;
    with_buffer(|buf| {
        // SAFETY: as in group_name.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe {
            libc::getgrnam_r(c.as_ptr(), &mut grp, buf.as_mut_ptr(), buf.len(), &mut res)
        };
        (rc, (!res.is_null()).then_some(grp.gr_gid))
    })
}

/// Primary and supplementary groups of a uid, for port group ACLs.
pub fn user_groups(uid: u32) -> Vec<u32> {
    let Some((name, gid)) = passwd_by_uid(uid, |p| {
        // SAFETY: pw_name points into the buffer, valid during the callback.
        (unsafe { CStr::from_ptr(p.pw_name) }.to_owned(), p.pw_gid)
    }) else {
        return Vec::new();
    };
    let mut groups = vec![0 as libc::gid_t; 64];
    loop {
        let mut n = groups.len() as libc::c_int;
        // SAFETY: groups holds n entries; getgrouplist writes at most n and sets n.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            groups.truncate(n.max(0) as usize);
            return groups;
        }
        if n as usize <= groups.len() || groups.len() > 65536 {
            return vec![gid];
        }
        groups.resize(n as usize, 0);
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
