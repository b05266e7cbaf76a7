//! libvdeplug (vdeplug4), the library QEMU, `vde_plug` and `vdens` use to reach a switch:
//! `vde_open`, `vde_send`, `vde_recv`, `vde_datafd`, `vde_close`.
//!
//! The library is loaded when the load generator starts (`dlopen`), not linked: the benchmark
//! crate then builds on machines without it, and a missing library is one clear error naming
//! the Debian package, instead of a link failure of the whole workspace.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io;
use std::os::fd::RawFd;
use std::sync::OnceLock;

/// The library's file name (Debian package `libvdeplug2`, pulled in by `vde2`).
const LIBRARY: &CStr = c"libvdeplug.so.2";
/// `LIBVDEPLUG_INTERFACE_VERSION` of libvdeplug.h: `vde_open` is a macro passing it to
/// `vde_open_real`.
const INTERFACE_VERSION: c_int = 1;

type OpenFn = unsafe extern "C" fn(*mut c_char, *mut c_char, c_int, *mut c_void) -> *mut c_void;
type SendFn = unsafe extern "C" fn(*mut c_void, *const c_void, usize, c_int) -> isize;
type RecvFn = unsafe extern "C" fn(*mut c_void, *mut c_void, usize, c_int) -> isize;
type FdFn = unsafe extern "C" fn(*mut c_void) -> c_int;

struct Api {
    open: OpenFn,
    send: SendFn,
    recv: RecvFn,
    datafd: FdFn,
    close: FdFn,
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl call.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: non-null, NUL-terminated (see above).
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

fn load() -> Result<Api, String> {
    // SAFETY: dlopen with a NUL-terminated name; the handle is never closed.
    let handle = unsafe { libc::dlopen(LIBRARY.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(format!(
            "cannot load {}: {} (install the Debian package libvdeplug2, e.g. with \
             `apt-get install vde2 libvdeplug-dev`)",
            LIBRARY.to_string_lossy(),
            dl_error()
        ));
    }
    let sym = |name: &CStr| -> Result<*mut c_void, String> {
        // SAFETY: dlsym on a live handle with a NUL-terminated name.
        let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
        if p.is_null() {
            Err(format!(
                "{} has no {}: {}",
                LIBRARY.to_string_lossy(),
                name.to_string_lossy(),
                dl_error()
            ))
        } else {
            Ok(p)
        }
    };
    // SAFETY: the symbols have these C signatures (libvdeplug.h of vdeplug4).
    unsafe {
        Ok(Api {
            open: std::mem::transmute::<*mut c_void, OpenFn>(sym(c"vde_open_real")?),
            send: std::mem::transmute::<*mut c_void, SendFn>(sym(c"vde_send")?),
            recv: std::mem::transmute::<*mut c_void, RecvFn>(sym(c"vde_recv")?),
            datafd: std::mem::transmute::<*mut c_void, FdFn>(sym(c"vde_datafd")?),
            close: std::mem::transmute::<*mut c_void, FdFn>(sym(c"vde_close")?),
        })
    }
}

/// Load libvdeplug (once per process); the error says what to install.
pub fn available() -> Result<(), String> {
    api().map(|_| ())
}

fn api() -> Result<&'static Api, String> {
    API.get_or_init(load).as_ref().map_err(Clone::clone)
}

/// One libvdeplug connection (one port of the switch). Closed on drop.
pub struct Conn {
    api: &'static Api,
    conn: *mut c_void,
}

impl Conn {
    /// `vde_open(url, description, NULL)`: a switch directory, or any vdeplug4 URL.
    pub fn open(url: &str, description: &str) -> io::Result<Conn> {
        let api = api().map_err(io::Error::other)?;
        let url = CString::new(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let descr = CString::new(description)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: valid NUL-terminated strings (the library copies what it keeps), no open args.
        let conn = unsafe {
            (api.open)(
                url.as_ptr().cast_mut(),
                descr.as_ptr().cast_mut(),
                INTERFACE_VERSION,
                std::ptr::null_mut(),
            )
        };
        if conn.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(Conn { api, conn })
    }

    /// `vde_send`: one frame; the data socket blocks while the switch's queue is full.
    pub fn send(&self, frame: &[u8]) -> isize {
        // SAFETY: a live connection and a valid buffer of the given length.
        unsafe { (self.api.send)(self.conn, frame.as_ptr().cast(), frame.len(), 0) }
    }

    /// `vde_recv`: one frame into `buf`; negative on error or timeout.
    pub fn recv(&self, buf: &mut [u8]) -> isize {
        // SAFETY: a live connection and a writable buffer of the given length.
        unsafe { (self.api.recv)(self.conn, buf.as_mut_ptr().cast(), buf.len(), 0) }
    }

    /// `vde_datafd`: the connected datagram socket, for batched system calls.
    pub fn datafd(&self) -> RawFd {
        // SAFETY: a live connection.
        unsafe { (self.api.datafd)(self.conn) }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: closing the live connection once.
        unsafe { (self.api.close)(self.conn) };
    }
}
