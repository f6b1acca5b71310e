//! Repairs of the kernel's frame-pointer call chains of Go code.
//!
//! The kernel starts its walk at the interrupted frame's BP. Go sets up no
//! frame in small leaf functions (and a function in its prologue or
//! epilogue has none linked yet), so BP still points at the caller's
//! frame and the chain goes from the leaf straight to the caller's
//! caller: the caller is lost. With the sampled SP, the top of the stack
//! and the function's SP delta at that PC from the binary's own table
//! ([`GoFuncTable`]), the missing return address is read where Go left
//! it, as Go's runtime unwinds. A chain that leads outside Go code
//! (assembly that uses BP as a data register, such as
//! `crypto/sha256.block`), or that ends anywhere but a frame Go marks as
//! the top of a stack, ends in [`INCOMPLETE_FRAME`]: the profile says so
//! instead of inventing a root. In any process, a return address outside
//! every executable mapping (C code built without frame pointers) ends
//! the chain the same way.

use super::gopclntab::{FLAG_SP_WRITE, FLAG_TOP_FRAME, FuncAt, GoFuncTable};
use super::symbols::{Mapping, Segments, parse_maps};
use super::sys::UserRegs;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A Go binary's function table and its loadable segments.
struct GoFile {
    table: GoFuncTable,
    segments: Segments,
}

/// Stands for "unwinding stopped here" at the root end of a chain.
pub const INCOMPLETE_FRAME: u64 = u64::MAX - 1;

/// The Go tables of one process's executable mappings.
pub struct GoUnwinder {
    pid: u32,
    maps: Vec<Mapping>,
    tables: HashMap<String, Option<Arc<GoFile>>>,
}

impl GoUnwinder {
    pub fn new(pid: u32) -> Self {
        let mut u = GoUnwinder {
            pid,
            maps: Vec::new(),
            tables: HashMap::new(),
        };
        u.reload_maps();
        u
    }

    /// Reads `/proc/PID/maps` again.
    pub fn reload_maps(&mut self) {
        let text = std::fs::read_to_string(format!("/proc/{}/maps", self.pid)).unwrap_or_default();
        self.maps = parse_maps(&text);
    }

    /// Whether `addr` is inside an executable mapping of the process.
    fn mapped(&self, addr: u64) -> bool {
        self.maps.iter().any(|m| addr >= m.start && addr < m.end)
    }

    /// What Go's table says about a runtime address, if it is Go code.
    fn func_at(&mut self, addr: u64) -> Option<FuncAt> {
        let m = self
            .maps
            .iter()
            .find(|m| addr >= m.start && addr < m.end)?
            .clone();
        let path = m.path.as_deref()?;
        let t = self.table(path)?;
        let (table, segments) = (&t.table, &t.segments);
        let file_offset = addr - m.start + m.offset;
        let vaddr = segments.vaddr(file_offset)?;
        let f = table.at(vaddr)?;
        // Report the entry as a runtime address.
        Some(FuncAt {
            entry: f.entry.wrapping_add(addr).wrapping_sub(vaddr),
            ..f
        })
    }

    fn table(&mut self, path: &str) -> Option<Arc<GoFile>> {
        if let Some(t) = self.tables.get(path) {
            return t.clone();
        }
        let in_root = PathBuf::from(format!("/proc/{}/root{}", self.pid, path));
        let t = load(&in_root)
            .or_else(|| load(Path::new(path)))
            .map(Arc::new);
        self.tables.insert(path.to_string(), t.clone());
        t
    }

    /// The chain of one sample (leaf first, user addresses only), repaired
    /// where Go's tables tell how. Frames outside Go code before the first
    /// Go frame (the vDSO, C called through cgo) are kept; after it, the
    /// chain must stay in Go code up to a top frame (`runtime.goexit`,
    /// `runtime.mstart`), past which nothing is kept. A chain of no Go
    /// code at all comes back as it is.
    pub fn repair(&mut self, chain: Vec<u64>, regs: Option<UserRegs>, stack: &[u8]) -> Vec<u64> {
        let Some(&leaf) = chain.first() else {
            return chain;
        };
        let mut out = Vec::with_capacity(chain.len() + 2);
        out.push(leaf);
        let mut in_go = false;
        if let Some(f) = self.func_at(leaf) {
            in_go = true;
            if f.flags & FLAG_TOP_FRAME != 0 {
                return out;
            }
            // A function that moves SP on its own (systemstack, morestack)
            // has no usable SP delta.
            let sp_known = f.flags & FLAG_SP_WRITE == 0;
            if let Some(r) = regs.filter(|r| r.ip == leaf && sp_known) {
                let linked =
                    f.sp_delta > 0 && r.bp == r.sp.wrapping_add(f.sp_delta as u64).wrapping_sub(8);
                if !linked {
                    // The leaf's frame is not in the BP chain: its return
                    // address sits at SP + delta.
                    let ret = usize::try_from(f.sp_delta)
                        .ok()
                        .and_then(|d| stack.get(d..d + 8))
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_ne_bytes);
                    match ret.and_then(|r| self.func_at(r.wrapping_sub(1)).map(|f| (r, f))) {
                        Some((ret, caller)) => {
                            out.push(ret);
                            if caller.flags & FLAG_TOP_FRAME != 0 {
                                return out;
                            }
                        }
                        None => {
                            out.push(INCOMPLETE_FRAME);
                            return out;
                        }
                    }
                }
            }
        }
        for &ret in &chain[1..] {
            match self.func_at(ret.wrapping_sub(1)) {
                Some(f) => {
                    in_go = true;
                    out.push(ret);
                    if f.flags & FLAG_TOP_FRAME != 0 {
                        return out;
                    }
                }
                // After Go code, or anywhere outside every executable
                // mapping, the chain is no longer a call chain.
                None if in_go || !self.mapped(ret) => {
                    out.push(INCOMPLETE_FRAME);
                    return out;
                }
                None => out.push(ret),
            }
        }
        if in_go {
            // The walk stopped before a top frame (too deep, or BP lost).
            out.push(INCOMPLETE_FRAME);
        }
        out
    }
}

/// The Go table and the loadable segments of one file.
fn load(path: &Path) -> Option<GoFile> {
    let data = std::fs::read(path).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let table = GoFuncTable::load(&file)?;
    Some(GoFile {
        table,
        segments: Segments::of(&file),
    })
}
