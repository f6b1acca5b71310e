//! Addresses of a process to function names: `/proc/PID/maps` says which
//! file is mapped where, the file's ELF symbol table (`.symtab`, else
//! `.dynsym`) says which function covers an address. Go binaries keep a
//! symbol table. An address no table covers is named by its address and
//! module, `0x4a1b2c [libfoo.so]`, so no sample is silently dropped.

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One executable mapping of the process.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub start: u64,
    pub end: u64,
    pub offset: u64,
    pub path: Option<String>,
}

/// The loadable segments of one ELF file: `(file offset, size, virtual
/// address)`, to turn an offset in a mapping into an address in the file.
#[derive(Debug, Default)]
pub(crate) struct Segments(Vec<(u64, u64, u64)>);

impl Segments {
    pub(crate) fn of(file: &object::File<'_>) -> Segments {
        Segments(
            file.segments()
                .filter_map(|s| {
                    let (off, size) = s.file_range();
                    (size > 0).then_some((off, size, s.address()))
                })
                .collect(),
        )
    }

    /// The virtual address in the file of `file_offset`.
    pub(crate) fn vaddr(&self, file_offset: u64) -> Option<u64> {
        self.0
            .iter()
            .find(|(off, size, _)| file_offset >= *off && file_offset < off + size)
            .map(|(off, _, vaddr)| file_offset - off + vaddr)
    }
}

/// Function symbols of one file, sorted by address.
#[derive(Debug, Default)]
struct SymbolTable {
    /// `(start, end, name)`.
    functions: Vec<(u64, u64, String)>,
    segments: Segments,
}

impl SymbolTable {
    fn load(path: &Path) -> Option<SymbolTable> {
        let data = std::fs::read(path).ok()?;
        let file = object::File::parse(&*data).ok()?;
        let text = |syms: &mut dyn Iterator<Item = object::Symbol<'_, '_>>| {
            syms.filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
                .filter_map(|s| {
                    let name = s.name().ok().filter(|n| !n.is_empty())?;
                    let name = format!("{:#}", rustc_demangle::demangle(name));
                    Some((s.address(), s.address() + s.size().max(1), name))
                })
                .collect::<Vec<_>>()
        };
        let mut functions = text(&mut file.symbols());
        if functions.is_empty() {
            functions = text(&mut file.dynamic_symbols());
        }
        functions.sort_by_key(|f| f.0);
        functions.dedup_by_key(|f| f.0);
        Some(SymbolTable {
            functions,
            segments: Segments::of(&file),
        })
    }

    /// The virtual address in the file of `file_offset`.
    fn vaddr(&self, file_offset: u64) -> Option<u64> {
        self.segments.vaddr(file_offset)
    }

    fn function(&self, vaddr: u64) -> Option<&str> {
        let i = self.functions.partition_point(|f| f.0 <= vaddr);
        let (start, end, name) = self.functions.get(i.checked_sub(1)?)?;
        // Sizes of 0 (assembly) were widened to 1: accept up to the next symbol.
        let covered = vaddr < *end || (end - start == 1);
        covered.then_some(name.as_str())
    }
}

/// Symbolizes the addresses of one process; caches files by path.
#[derive(Debug)]
pub struct Symbolizer {
    pid: u32,
    maps: Vec<Mapping>,
    tables: HashMap<String, Option<Arc<SymbolTable>>>,
    names: HashMap<u64, Arc<str>>,
}

impl Symbolizer {
    pub fn new(pid: u32) -> Self {
        let mut s = Symbolizer {
            pid,
            maps: Vec::new(),
            tables: HashMap::new(),
            names: HashMap::new(),
        };
        s.reload_maps();
        s
    }

    /// Reads `/proc/PID/maps` again (libraries loaded since) and forgets
    /// names resolved against the old layout.
    pub fn reload_maps(&mut self) {
        let path = PathBuf::from(format!("/proc/{}/maps", self.pid));
        let text = std::fs::read_to_string(path).unwrap_or_default();
        self.maps = parse_maps(&text);
        self.names.clear();
    }

    /// The name of the function at `addr`. `return_address` is set for
    /// every frame but the leaf: the call is the byte before.
    pub fn name(&mut self, addr: u64, return_address: bool) -> Arc<str> {
        let key = addr ^ u64::from(return_address);
        if let Some(n) = self.names.get(&key) {
            return n.clone();
        }
        let lookup = if return_address {
            addr.saturating_sub(1)
        } else {
            addr
        };
        let name: Arc<str> = self.resolve(lookup).into();
        self.names.insert(key, name.clone());
        name
    }

    fn resolve(&mut self, addr: u64) -> String {
        let Some(m) = self
            .maps
            .iter()
            .find(|m| addr >= m.start && addr < m.end)
            .cloned()
        else {
            return format!("0x{addr:x} [unknown]");
        };
        let Some(path) = m.path.as_deref() else {
            return format!("0x{addr:x} [anon]");
        };
        let module = path.rsplit('/').next().unwrap_or(path);
        let table = self.table(path);
        let file_offset = addr - m.start + m.offset;
        match table.and_then(|t| {
            t.vaddr(file_offset)
                .and_then(|v| t.function(v))
                .map(str::to_string)
        }) {
            Some(name) => name,
            None => format!("0x{file_offset:x} [{module}]"),
        }
    }

    fn table(&mut self, path: &str) -> Option<Arc<SymbolTable>> {
        if let Some(t) = self.tables.get(path) {
            return t.clone();
        }
        // Through the process's root, so a file in its own mount namespace is found.
        let in_root = PathBuf::from(format!("/proc/{}/root{}", self.pid, path));
        let t = SymbolTable::load(&in_root)
            .or_else(|| SymbolTable::load(Path::new(path)))
            .map(Arc::new);
        self.tables.insert(path.to_string(), t.clone());
        t
    }
}

pub(crate) fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let range = f.next()?;
            let perms = f.next()?;
            let offset = u64::from_str_radix(f.next()?, 16).ok()?;
            let _dev = f.next()?;
            let _inode = f.next()?;
            let path: Vec<&str> = f.collect();
            if !perms.contains('x') {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            let path = path.join(" ");
            Some(Mapping {
                start: u64::from_str_radix(a, 16).ok()?,
                end: u64::from_str_radix(b, 16).ok()?,
                offset,
                path: path.starts_with('/').then_some(path),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn known_function() -> u64 {
        std::hint::black_box(42)
    }

    #[test]
    fn resolves_a_function_of_this_test_binary() {
        let mut s = Symbolizer::new(std::process::id());
        let addr = known_function as *const () as u64;
        assert_eq!(known_function(), 42);
        let name = s.name(addr, false);
        assert!(
            name.contains("known_function"),
            "address of known_function named {name:?}"
        );
    }

    #[test]
    fn an_unmapped_address_keeps_its_address() {
        let mut s = Symbolizer::new(std::process::id());
        assert_eq!(&*s.name(0x10, false), "0x10 [unknown]");
    }

    #[test]
    fn maps_lines_parse() {
        let m = parse_maps(
            "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus-daemon\n\
             7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n\
             7f0000002000-7f0000003000 r-xp 00001000 00:00 0 \n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].path.as_deref(), Some("/usr/bin/dbus-daemon"));
        assert_eq!(m[1].path, None);
        assert_eq!(m[1].offset, 0x1000);
    }
}
