//! Go's function table (`.gopclntab`, Go 1.18 and later): for any PC of a
//! Go binary, the function that holds it, its flags, and how far the stack
//! pointer is below the function's entry value at that PC (the `pcsp`
//! table the Go runtime itself unwinds with).
//!
//! Layout (`runtime/symtab.go`): a header (magic `0xfffffff0` for Go
//! 1.18–1.19, `0xfffffff1` from 1.20), then a function table of
//! `(entry offset, func offset)` pairs sorted by entry, each func record
//! giving offsets into the PC-value tables. PC-value tables are runs of
//! (zig-zag value delta, PC delta) varint pairs.

use object::{Object, ObjectSection};

/// `runtime.funcFlag` bits.
pub const FLAG_TOP_FRAME: u8 = 1 << 0;
pub const FLAG_SP_WRITE: u8 = 1 << 1;
pub const FLAG_ASM: u8 = 1 << 2;

/// What the table says about one PC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncAt {
    /// Virtual address of the function's entry.
    pub entry: u64,
    /// Bytes the stack pointer is below its value at entry (after the
    /// return address was pushed); 0 in a frameless function.
    pub sp_delta: i64,
    pub flags: u8,
}

/// The function table of one Go binary.
#[derive(Debug)]
pub struct GoFuncTable {
    data: Vec<u8>,
    text_start: u64,
    min_lc: u64,
    nfunc: usize,
    pctab: usize,
    pcln: usize,
    /// Go 1.20 added `startLine` to each func record.
    has_start_line: bool,
}

impl GoFuncTable {
    /// Reads the table of an ELF file, if it is a Go binary of 1.18 or later.
    pub fn load(file: &object::File<'_>) -> Option<GoFuncTable> {
        let section = file.section_by_name(".gopclntab")?;
        let data = section.data().ok()?.to_vec();
        let magic = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?);
        let has_start_line = match magic {
            0xffff_fff0 => false,
            0xffff_fff1 => true,
            _ => return None,
        };
        let min_lc = u64::from(*data.get(6)?);
        let ptr = usize::from(*data.get(7)?);
        if ptr != 8 || min_lc == 0 {
            return None;
        }
        let word = |i: usize| -> Option<u64> {
            let at = 8 + i * 8;
            Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?))
        };
        let nfunc = usize::try_from(word(0)?).ok()?;
        let mut text_start = word(2)?;
        if text_start == 0 {
            // A position-independent binary relocates it at load time.
            text_start = file.section_by_name(".text")?.address();
        }
        let pctab = usize::try_from(word(6)?).ok()?;
        let pcln = usize::try_from(word(7)?).ok()?;
        let t = GoFuncTable {
            data,
            text_start,
            min_lc,
            nfunc,
            pctab,
            pcln,
            has_start_line,
        };
        // The function table must fit.
        t.u32_at(t.pcln + (t.nfunc * 2 + 1) * 4)?;
        Some(t)
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        Some(u32::from_le_bytes(
            self.data.get(at..at + 4)?.try_into().ok()?,
        ))
    }

    /// `(entry offset, func offset)` of function `i`.
    fn functab(&self, i: usize) -> Option<(u32, u32)> {
        let at = self.pcln + i * 8;
        Some((self.u32_at(at)?, self.u32_at(at + 4)?))
    }

    /// The function holding `vaddr` and its SP delta there.
    pub fn at(&self, vaddr: u64) -> Option<FuncAt> {
        let off = u32::try_from(vaddr.checked_sub(self.text_start)?).ok()?;
        // The last entry is a sentinel: the end of the text.
        let (end, _) = self.functab(self.nfunc)?;
        if off >= end {
            return None;
        }
        let (mut lo, mut hi) = (0usize, self.nfunc);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if self.functab(mid)?.0 <= off {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let (entry_off, func_off) = self.functab(lo)?;
        if entry_off > off {
            return None;
        }
        let func = self.pcln + func_off as usize;
        let pcsp = self.u32_at(func + 16)? as usize;
        // After cuOffset (and startLine from Go 1.20): funcID, flag.
        let flags_at = func + if self.has_start_line { 41 } else { 37 };
        let flags = *self.data.get(flags_at)?;
        let sp_delta = self.pc_value(self.pctab + pcsp, u64::from(entry_off), u64::from(off))?;
        Some(FuncAt {
            entry: self.text_start + u64::from(entry_off),
            sp_delta: i64::from(sp_delta),
            flags,
        })
    }

    /// The value a PC-value table holds for `target` (text offsets).
    fn pc_value(&self, mut at: usize, entry: u64, target: u64) -> Option<i32> {
        let mut pc = entry;
        let mut value: i32 = -1;
        let mut first = true;
        loop {
            let (uvdelta, n) = varint(self.data.get(at..)?)?;
            if uvdelta == 0 && !first {
                return None;
            }
            first = false;
            at += n;
            let delta = (-((uvdelta & 1) as i32)) ^ ((uvdelta >> 1) as i32);
            value = value.wrapping_add(delta);
            let (pcdelta, n) = varint(self.data.get(at..)?)?;
            at += n;
            pc += u64::from(pcdelta) * self.min_lc;
            if target < pc {
                return Some(value);
            }
        }
    }
}

/// A little-endian base-128 varint: `(value, bytes read)`.
fn varint(b: &[u8]) -> Option<(u32, usize)> {
    let mut v = 0u32;
    for (i, byte) in b.iter().take(5).enumerate() {
        v |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pc_values_decode_like_the_go_runtime() {
        // value -1 → 0 over [0, 4), → 8 over [4, 20), → 0 over [20, 21).
        let table = [0x02, 0x04, 0x10, 0x10, 0x0f, 0x01, 0x00];
        let t = GoFuncTable {
            data: table.to_vec(),
            text_start: 0,
            min_lc: 1,
            nfunc: 0,
            pctab: 0,
            pcln: 0,
            has_start_line: true,
        };
        assert_eq!(t.pc_value(0, 0, 0), Some(0));
        assert_eq!(t.pc_value(0, 0, 3), Some(0));
        assert_eq!(t.pc_value(0, 0, 4), Some(8));
        assert_eq!(t.pc_value(0, 0, 19), Some(8));
        assert_eq!(t.pc_value(0, 0, 20), Some(0));
        assert_eq!(t.pc_value(0, 0, 21), None);
    }
}
