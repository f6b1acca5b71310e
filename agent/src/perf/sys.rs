//! The `perf_event_open` ABI the sampler needs: the attribute struct
//! (version 5, 112 bytes), the flags, and one thread's event with its
//! ring buffer mapped.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

pub const PERF_TYPE_SOFTWARE: u32 = 1;
pub const PERF_COUNT_SW_CPU_CLOCK: u64 = 0;

pub const SAMPLE_IP: u64 = 1 << 0;
pub const SAMPLE_TID: u64 = 1 << 1;
pub const SAMPLE_TIME: u64 = 1 << 2;
pub const SAMPLE_READ: u64 = 1 << 4;
pub const SAMPLE_CALLCHAIN: u64 = 1 << 5;
pub const SAMPLE_REGS_USER: u64 = 1 << 12;
pub const SAMPLE_STACK_USER: u64 = 1 << 13;

/// x86-64 user registers sampled (`perf_regs.h`): BP, SP, IP, in that
/// order in the record.
pub const REGS_MASK: u64 = (1 << 6) | (1 << 7) | (1 << 8);
/// Bytes of user stack copied from the stack pointer with each sample:
/// enough to find the return address of a leaf whose frame is not (or
/// no longer) linked into the frame-pointer chain.
pub const STACK_DUMP_BYTES: u32 = 512;

const FLAG_DISABLED: u64 = 1 << 0;
const FLAG_EXCLUDE_HV: u64 = 1 << 6;
const FLAG_EXCLUDE_CALLCHAIN_KERNEL: u64 = 1 << 21;

pub const RECORD_LOST: u32 = 2;
pub const RECORD_SAMPLE: u32 = 9;

/// Call chain entries at or above this are context markers
/// (`PERF_CONTEXT_USER`, `PERF_CONTEXT_KERNEL`, …), not addresses.
pub const CONTEXT_MAX: u64 = (-4095i64) as u64;

const IOC_ENABLE: libc::c_ulong = 0x2400;
const FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const ATTR_SIZE_VER5: u32 = 112;

/// `struct perf_event_attr`, up to `sample_max_stack` (ABI version 5).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct EventAttr {
    pub kind: u32,
    pub size: u32,
    pub config: u64,
    pub sample_period: u64,
    pub sample_type: u64,
    pub read_format: u64,
    pub flags: u64,
    pub wakeup_events: u32,
    pub bp_type: u32,
    pub config1: u64,
    pub config2: u64,
    pub branch_sample_type: u64,
    pub sample_regs_user: u64,
    pub sample_stack_user: u32,
    pub clockid: i32,
    pub sample_regs_intr: u64,
    pub aux_watermark: u32,
    pub sample_max_stack: u16,
    pub reserved: u16,
}

const _: () = assert!(std::mem::size_of::<EventAttr>() == ATTR_SIZE_VER5 as usize);

/// What every sample carries, in record order: ip, pid/tid, time, the
/// cpu-clock value (on-CPU ns of the thread so far), the user call chain,
/// the user BP/SP/IP and the top of the user stack.
pub const SAMPLE_TYPE: u64 = SAMPLE_IP
    | SAMPLE_TID
    | SAMPLE_TIME
    | SAMPLE_READ
    | SAMPLE_CALLCHAIN
    | SAMPLE_REGS_USER
    | SAMPLE_STACK_USER;

/// The cpu-clock event of one thread, sampling every `period_ns` of its
/// CPU time, with `pages` data pages of ring buffer (a power of two).
pub struct ThreadEvent {
    fd: libc::c_int,
    base: *mut u8,
    map_len: usize,
    data_len: usize,
    page: usize,
}

// The mapping is owned by this value and only touched through `&mut self`.
unsafe impl Send for ThreadEvent {}

impl ThreadEvent {
    pub fn open(tid: i32, period_ns: u64, pages: usize) -> io::Result<ThreadEvent> {
        let attr = EventAttr {
            kind: PERF_TYPE_SOFTWARE,
            size: ATTR_SIZE_VER5,
            config: PERF_COUNT_SW_CPU_CLOCK,
            sample_period: period_ns,
            sample_type: SAMPLE_TYPE,
            flags: FLAG_DISABLED | FLAG_EXCLUDE_HV | FLAG_EXCLUDE_CALLCHAIN_KERNEL,
            sample_max_stack: 127,
            sample_regs_user: REGS_MASK,
            sample_stack_user: STACK_DUMP_BYTES,
            ..Default::default()
        };
        // SAFETY: `attr` is a valid, fully initialised perf_event_attr of
        // the size it declares; the kernel only reads it.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const EventAttr,
                tid,
                -1i32,
                -1i32,
                FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = fd as libc::c_int;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let pages = pages.next_power_of_two().max(1);
        let map_len = page * (1 + pages);
        // SAFETY: mapping a perf fd with the size the ABI requires (one
        // header page plus 2^n data pages); the result is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            // SAFETY: fd was returned by perf_event_open above.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        let ev = ThreadEvent {
            fd,
            base: base as *mut u8,
            map_len,
            data_len: page * pages,
            page,
        };
        // SAFETY: PERF_EVENT_IOC_ENABLE on our own perf fd.
        if unsafe { libc::ioctl(fd, IOC_ENABLE, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ev)
    }

    /// The thread's cpu-clock count: ns on CPU since the event was enabled.
    pub fn cpu_ns(&self) -> io::Result<u64> {
        let mut v = 0u64;
        // SAFETY: reading 8 bytes into a u64 from our perf fd.
        let n = unsafe { libc::read(self.fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
        if n != 8 {
            return Err(io::Error::last_os_error());
        }
        Ok(v)
    }

    fn head_tail(&self) -> (&AtomicU64, &AtomicU64) {
        // SAFETY: `data_head` and `data_tail` are the u64 fields at byte
        // 1024 and 1032 of the mapped header page (perf_event_mmap_page),
        // 8-aligned, alive as long as `self`.
        unsafe {
            (
                &*(self.base.add(1024) as *const AtomicU64),
                &*(self.base.add(1032) as *const AtomicU64),
            )
        }
    }

    /// Hands every complete record in the ring to `f` as `(type, body)`,
    /// then frees their space for the kernel.
    pub fn drain(&mut self, mut f: impl FnMut(u32, &[u8])) {
        let (head, tail) = self.head_tail();
        let head_v = head.load(Ordering::Acquire);
        let mut pos = tail.load(Ordering::Relaxed);
        // SAFETY: the data area follows the header page and is `data_len`
        // bytes long; the kernel does not write between tail and head.
        let data = unsafe { std::slice::from_raw_parts(self.base.add(self.page), self.data_len) };
        let mask = (self.data_len - 1) as u64;
        let mut record = Vec::new();
        while pos + 8 <= head_v {
            let read = |at: u64, out: &mut Vec<u8>, len: usize| {
                out.clear();
                let start = (at & mask) as usize;
                let first = len.min(self.data_len - start);
                out.extend_from_slice(&data[start..start + first]);
                out.extend_from_slice(&data[..len - first]);
            };
            read(pos, &mut record, 8);
            let kind = u32::from_ne_bytes([record[0], record[1], record[2], record[3]]);
            let size = u16::from_ne_bytes([record[6], record[7]]) as u64;
            if size < 8 || pos + size > head_v {
                break;
            }
            read(pos + 8, &mut record, size as usize - 8);
            f(kind, &record);
            pos += size;
        }
        tail.store(pos, Ordering::Release);
    }
}

impl Drop for ThreadEvent {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping and closing our own fd, once.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.map_len);
            libc::close(self.fd);
        }
    }
}

/// User registers at the sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRegs {
    pub bp: u64,
    pub sp: u64,
    pub ip: u64,
}

/// A sample's fields, parsed from a `PERF_RECORD_SAMPLE` body laid out
/// per [`SAMPLE_TYPE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub ip: u64,
    pub tid: u32,
    pub time_ns: u64,
    /// The thread's cpu-clock value when the sample was taken.
    pub cpu_ns: u64,
    /// User call chain, leaf first, markers removed.
    pub chain: Vec<u64>,
    /// User BP, SP and IP, when the kernel had them.
    pub regs: Option<UserRegs>,
    /// The user stack from SP up (the bytes the kernel could copy).
    pub stack: Vec<u8>,
}

pub fn parse_sample(body: &[u8]) -> Option<Sample> {
    let u64_at = |i: usize| -> Option<u64> {
        body.get(i * 8..i * 8 + 8)
            .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
    };
    let ip = u64_at(0)?;
    let pid_tid = body.get(8..16)?;
    let tid = u32::from_ne_bytes(pid_tid[4..8].try_into().ok()?);
    let time_ns = u64_at(2)?;
    let cpu_ns = u64_at(3)?;
    let nr = usize::try_from(u64_at(4)?).ok()?;
    if nr > 1024 || body.len() < (5 + nr) * 8 {
        return None;
    }
    let chain = (0..nr)
        .filter_map(|i| u64_at(5 + i))
        .filter(|a| *a < CONTEXT_MAX)
        .collect();
    // Then: regs ABI (0 = none) and the registers; the stack dump's size,
    // bytes and dynamic size. Absent in records of older layouts.
    let mut at = 5 + nr;
    let mut regs = None;
    let mut stack = Vec::new();
    if let Some(abi) = u64_at(at) {
        at += 1;
        if abi != 0 {
            let (bp, sp, rip) = (u64_at(at)?, u64_at(at + 1)?, u64_at(at + 2)?);
            at += 3;
            regs = Some(UserRegs { bp, sp, ip: rip });
        }
        if let Some(size) = u64_at(at).and_then(|s| usize::try_from(s).ok()) {
            let start = (at + 1) * 8;
            let data = body.get(start..start.checked_add(size)?)?;
            let dyn_size = body
                .get(start + size..start + size + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_ne_bytes)
                .unwrap_or(0);
            let keep = usize::try_from(dyn_size).unwrap_or(0).min(size);
            stack = data[..keep].to_vec();
        }
    }
    Some(Sample {
        ip,
        tid,
        time_ns,
        cpu_ns,
        chain,
        regs,
        stack,
    })
}

/// `PERF_RECORD_LOST`: how many samples the kernel could not write.
pub fn parse_lost(body: &[u8]) -> Option<u64> {
    body.get(8..16)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_ne_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_fields_come_out_in_abi_order_without_markers() {
        let mut body = 0x401000u64.to_ne_bytes().to_vec(); // ip
        body.extend_from_slice(&7u32.to_ne_bytes()); // pid
        body.extend_from_slice(&9u32.to_ne_bytes()); // tid
        for v in [1_000u64, 2_000_000, 3, (-512i64) as u64, 0x401000, 0x402000] {
            body.extend_from_slice(&v.to_ne_bytes());
        }
        let s = parse_sample(&body).unwrap();
        assert_eq!(s.tid, 9);
        assert_eq!(s.cpu_ns, 2_000_000);
        assert_eq!(s.chain, vec![0x401000, 0x402000]);
        assert_eq!((s.regs, s.stack.len()), (None, 0));
        assert!(parse_sample(&body[..40]).is_none());
        // Registers (ABI 64-bit) and 16 bytes of stack, 8 of them valid.
        for v in [2u64, 0x7000, 0x6ff0, 0x401000, 16] {
            body.extend_from_slice(&v.to_ne_bytes());
        }
        body.extend_from_slice(&0x405000u64.to_ne_bytes());
        body.extend_from_slice(&[0xaa; 8]);
        body.extend_from_slice(&8u64.to_ne_bytes());
        let s = parse_sample(&body).unwrap();
        assert_eq!(
            s.regs,
            Some(UserRegs {
                bp: 0x7000,
                sp: 0x6ff0,
                ip: 0x401000
            })
        );
        assert_eq!(s.stack, 0x405000u64.to_ne_bytes());
    }
}
