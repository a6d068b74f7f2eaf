//! Write concord resolvers in Rust.
//!
//! A resolver merges the sibling versions of a key (see `resolvers/ABI.md`).
//! With this crate it is a function from [`Input`] to [`Resolution`] and one
//! macro call that exports it with the ABI v1 marker:
//!
//! ```ignore
//! use concord_guest::{Input, Resolution};
//!
//! fn first_value(input: &Input) -> Resolution {
//!     match input.live().next() {
//!         Some(value) => Resolution::Value(value.to_vec()),
//!         None => Resolution::Delete,
//!     }
//! }
//!
//! concord_guest::export_resolver!(first_value);
//! ```
//!
//! Build it as a `cdylib` for `wasm32-unknown-unknown` (no WASI needed):
//! `cargo build --release --target wasm32-unknown-unknown`.
//!
//! The siblings come in any order, and the result must not depend on it,
//! nor on earlier calls: instances are reused and replicas must converge.
//! A panic traps; its message is logged first (at error level), and the host
//! keeps the siblings.
//!
//! The crate has no dependencies. Outside `wasm32` it compiles (so merge
//! functions can be unit-tested with `cargo test`), but there is no host:
//! [`config`] is empty and [`log`] discards.

#![forbid(unsafe_op_in_unsafe_fn)]

use std::fmt;

/// One concurrent version of the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sibling<'a> {
    /// The stored value; empty for a tombstone.
    pub value: &'a [u8],
    /// A causal delete.
    pub tombstone: bool,
    /// The coordinator's wall clock at write time, in Unix nanoseconds.
    /// Informational (last-writer-wins uses it); not a causal order.
    pub timestamp: i64,
}

/// What one resolve call receives. It borrows the call's input buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input<'a> {
    /// The namespace of the key.
    pub namespace: &'a str,
    /// The key whose siblings are merged.
    pub key: &'a [u8],
    /// The siblings, in an arbitrary order.
    pub siblings: Vec<Sibling<'a>>,
}

impl<'a> Input<'a> {
    /// The values of the siblings that are not tombstones.
    pub fn live(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.siblings
            .iter()
            .filter(|s| !s.tombstone)
            .map(|s| s.value)
    }
}

/// The outcome of a merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The merged value (status OK). An empty value is a value, not a delete.
    Value(Vec<u8>),
    /// The merge is a tombstone (status DELETE).
    Delete,
    /// Keep the siblings as they are (status DEFER).
    Defer,
    /// The merge failed (status ERROR): the message is logged at error
    /// level, the siblings are kept and the failure is counted.
    Error(String),
}

/// Severity of a [`log`] line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

/// Sends one line to the host's log (at most 32 lines of 1 KiB per call are
/// kept).
pub fn log(level: Level, msg: &str) {
    host::log(level as i32, msg.as_bytes());
}

/// Returns the namespace's resolver config, as uploaded with the module
/// (empty if there is none).
pub fn config() -> Vec<u8> {
    let n = host::config_read(&mut []);
    if n <= 0 {
        return Vec::new();
    }
    let mut buf = vec![0; n as usize];
    if host::config_read(&mut buf) != n {
        return Vec::new();
    }
    buf
}

/// ABI v1 statuses.
const STATUS_OK: i32 = 0;
const STATUS_DELETE: i32 = 1;
const STATUS_DEFER: i32 = 2;
const STATUS_ERROR: i32 = 3;

/// A malformed input frame.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameError(&'static str);

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "concord: malformed input frame: {}", self.0)
    }
}

impl std::error::Error for FrameError {}

/// Decodes an ABI v1 input frame (`resolvers/ABI.md` §3). The result
/// borrows `frame`.
pub fn decode(frame: &[u8]) -> Result<Input<'_>, FrameError> {
    let mut r = Reader(frame);
    if r.take(1, "version")?[0] != 1 {
        return Err(FrameError("unsupported version"));
    }
    let ns_len = u16::from_le_bytes(r.array("namespace length")?) as usize;
    let namespace = std::str::from_utf8(r.take(ns_len, "namespace")?)
        .map_err(|_| FrameError("namespace is not UTF-8"))?;
    let key_len = r.u32("key length")?;
    let key = r.take(key_len, "key")?;
    let count = r.u32("sibling count")?;
    if count > r.0.len() / 13 {
        return Err(FrameError("sibling count exceeds the frame"));
    }
    let mut siblings = Vec::with_capacity(count);
    for _ in 0..count {
        let flags = r.take(1, "flags")?[0];
        if flags & !1 != 0 {
            return Err(FrameError("unknown flag bits"));
        }
        let timestamp = i64::from_le_bytes(r.array("timestamp")?);
        let value_len = r.u32("value length")?;
        let value = r.take(value_len, "value")?;
        siblings.push(Sibling {
            value,
            tombstone: flags & 1 != 0,
            timestamp,
        });
    }
    if !r.0.is_empty() {
        return Err(FrameError("trailing bytes"));
    }
    Ok(Input {
        namespace,
        key,
        siblings,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FrameError> {
        if n > self.0.len() {
            return Err(FrameError(what));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FrameError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u32(&mut self, what: &'static str) -> Result<usize, FrameError> {
        Ok(u32::from_le_bytes(self.array(what)?) as usize)
    }
}

/// Runs one resolve call: what the `resolve` export made by
/// [`export_resolver!`] does. Not for direct use.
#[doc(hidden)]
pub fn __resolve(input_len: u32, resolver: fn(&Input) -> Resolution) -> i32 {
    install_panic_hook();
    let mut frame = vec![0u8; input_len as usize];
    let n = host::input_read(&mut frame);
    if n != input_len as i32 {
        return fail(&format!(
            "concord: input_read returned {}, want {}",
            n, input_len
        ));
    }
    let input = match decode(&frame) {
        Ok(input) => input,
        Err(e) => return fail(&e.to_string()),
    };
    match resolver(&input) {
        Resolution::Value(v) => {
            if !v.is_empty() && host::output_write(&v) < 0 {
                return fail(&format!(
                    "concord: output_write of {} bytes failed",
                    v.len()
                ));
            }
            STATUS_OK
        }
        Resolution::Delete => STATUS_DELETE,
        Resolution::Defer => STATUS_DEFER,
        Resolution::Error(msg) => fail(&msg),
    }
}

fn fail(msg: &str) -> i32 {
    log(Level::Error, msg);
    STATUS_ERROR
}

/// Logs a panic's message before the module traps (wasm32 aborts on panic).
fn install_panic_hook() {
    static mut INSTALLED: bool = false;
    // SAFETY: a WebAssembly instance is single-threaded.
    unsafe {
        if INSTALLED {
            return;
        }
        INSTALLED = true;
    }
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = match (
            payload.downcast_ref::<&str>(),
            payload.downcast_ref::<String>(),
        ) {
            (Some(s), _) => s,
            (_, Some(s)) => s.as_str(),
            _ => "(no message)",
        };
        match info.location() {
            Some(at) => log(
                Level::Error,
                &format!("resolver panicked: {} at {}:{}", msg, at.file(), at.line()),
            ),
            None => log(Level::Error, &format!("resolver panicked: {}", msg)),
        }
    }));
}

/// Exports `resolver` (a `fn(&Input) -> Resolution`) as the module's
/// `resolve` function, with the `concord_abi_v1` marker.
#[macro_export]
macro_rules! export_resolver {
    ($resolver:path) => {
        /// The ABI v1 marker; never called.
        #[no_mangle]
        pub extern "C" fn concord_abi_v1() {}

        /// The ABI v1 entry point.
        #[no_mangle]
        pub extern "C" fn resolve(input_len: u32) -> i32 {
            $crate::__resolve(input_len, $resolver)
        }
    };
}

#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "concord")]
    extern "C" {
        #[link_name = "input_read"]
        fn host_input_read(ptr: *mut u8, len: u32) -> i32;
        #[link_name = "output_write"]
        fn host_output_write(ptr: *const u8, len: u32) -> i32;
        #[link_name = "config_read"]
        fn host_config_read(ptr: *mut u8, len: u32) -> i32;
        #[link_name = "log"]
        fn host_log(level: i32, ptr: *const u8, len: u32);
    }

    // SAFETY (all four): the host reads or writes exactly the slice passed.
    pub fn input_read(buf: &mut [u8]) -> i32 {
        unsafe { host_input_read(buf.as_mut_ptr(), buf.len() as u32) }
    }
    pub fn output_write(buf: &[u8]) -> i32 {
        unsafe { host_output_write(buf.as_ptr(), buf.len() as u32) }
    }
    pub fn config_read(buf: &mut [u8]) -> i32 {
        unsafe { host_config_read(buf.as_mut_ptr(), buf.len() as u32) }
    }
    pub fn log(level: i32, msg: &[u8]) {
        unsafe { host_log(level, msg.as_ptr(), msg.len() as u32) }
    }
}

/// Outside WebAssembly there is no host: every call fails as if outside
/// resolve (-3, ERR_UNAVAILABLE), and logs are discarded.
#[cfg(not(target_arch = "wasm32"))]
mod host {
    pub fn input_read(_: &mut [u8]) -> i32 {
        -3
    }
    pub fn output_write(_: &[u8]) -> i32 {
        -3
    }
    pub fn config_read(_: &mut [u8]) -> i32 {
        -3
    }
    pub fn log(_: i32, _: &[u8]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_documented_layout() {
        let frame = [
            1, 2, 0, b'n', b's', 1, 0, 0, 0, b'k', 2, 0, 0, 0, //
            0, 8, 7, 6, 5, 4, 3, 2, 1, 2, 0, 0, 0, b'a', b'b', //
            1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
        ];
        let input = decode(&frame).unwrap();
        assert_eq!(input.namespace, "ns");
        assert_eq!(input.key, b"k");
        assert_eq!(
            input.siblings[0],
            Sibling {
                value: b"ab",
                tombstone: false,
                timestamp: 0x0102030405060708
            }
        );
        assert_eq!(
            input.siblings[1],
            Sibling {
                value: b"",
                tombstone: true,
                timestamp: -1
            }
        );
        assert!(decode(&frame[..frame.len() - 1]).is_err());
    }
}
