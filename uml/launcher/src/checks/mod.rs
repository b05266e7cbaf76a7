//! Checks before boot. Each finding names the mistake and the fix; any finding stops the launch
//! before the kernel starts.
//!
//! * [`check_words`]: the command line alone: misspelled parameters and transports (`udb`,
//!   `demon`, `damon`, ...), spaces inside a sub-parameter list, words given twice, `mem=`.
//! * [`check_disk`]: a `ubd` word's files: paths with `,` or `:`, a missing image or backing
//!   file, a COW whose backing file changed size or mtime, files a running guest holds.
//! * [`check_switch`]: a network word's switch socket exists and answers.
//! * [`check_umid`]: the machine id is free and its mconsole socket path fits.
//! * [`check_plain_path`]: a path given to one of umlrun's own options has no `,` or `:`.

mod disk;
mod paths;
mod spaces;
mod spelling;
mod switch;
mod umid;
mod words;

pub use disk::{bitmap_bytes, check_disk, DiskAction};
pub use paths::check_plain_path;
pub use spelling::closest;
pub use switch::{check_switch, probe_stream_socket, SocketState};
pub use umid::check_umid;
pub use words::check_words;
