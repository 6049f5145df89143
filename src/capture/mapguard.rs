//! Read-only file maps that survive the file shrinking underneath them.
//!
//! Large pcaps read in segments are parsed from memory maps (see `capture::Chunked`). If another
//! program truncates a mapped file (tcpdump's `-W` ring buffer reuses its oldest file this way), or
//! the storage fails, touching the lost pages raises SIGBUS, which would kill the whole program. A
//! SIGBUS handler puts zero pages over the rest of such a map instead and records where the loss
//! begins; the reader checks each record against that offset before using it, so a shrunken capture
//! becomes an error naming the file and packet, like any other bad input. Faults outside these maps
//! go on to the handler that was installed before (Rust's own, for stack overflows) or to the
//! default action.

use std::fs::File;

/// A read-only map of a whole file, registered with the SIGBUS handler while it lives.
pub struct GuardedMap {
    slot: usize,
    // Dropped after `Drop::drop` has unregistered the slot.
    map: memmap2::Mmap,
}

impl GuardedMap {
    /// Maps `file` (a regular, non-empty file); `None` when it cannot be mapped or guarded,
    /// and the caller then reads it with `read`.
    pub fn new(file: &File) -> Option<GuardedMap> {
        imp::new(file)
    }

    #[inline(always)]
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Whether the bytes `..end` are all readable: touches byte `end - 1` (so a lost page is
    /// found now, not while the record is decoded) and compares with where the loss begins.
    #[inline(always)]
    pub fn readable_to(&self, end: usize) -> bool {
        if end == 0 || end > self.map.len() {
            return end == 0;
        }
        // SAFETY: `end - 1` is inside the map; a volatile read keeps the touch.
        unsafe { std::ptr::read_volatile(self.map.as_ptr().add(end - 1)) };
        self.lost_from().is_none_or(|l| end <= l)
    }

    /// Offset from which the map's bytes were lost (replaced by zeros), if they were.
    pub fn lost_from(&self) -> Option<usize> {
        imp::lost_from(self.slot)
    }

    /// Unmaps the whole pages below `end` from this process, keeping them in the page cache:
    /// a capture is read once, front to back, and without this every page read so far stays
    /// in the process's resident set until the file is done (a 2 GB capture showed 2.3 GB
    /// resident). Reading those bytes again would fault them back in from the file.
    /// Returns the page-aligned offset released up to.
    pub fn release_before(&self, from: usize, end: usize) -> usize {
        let page = imp::page();
        let to = end.min(self.map.len()) / page * page;
        if to > from {
            // SAFETY: a read-only map of a file: the bytes below `to` are never borrowed again
            // by the reader (it moves forward), and if they were, the kernel would map the
            // same file bytes back in.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
            };
            to
        } else {
            from
        }
    }
}

impl Drop for GuardedMap {
    fn drop(&mut self) {
        imp::unregister(self.slot);
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::ffi::c_void;
    use std::fs::File;
    use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
    use std::sync::Once;

    use super::GuardedMap;

    /// One registered map. Slots are plain atomics so the signal handler can read them.
    struct Slot {
        start: AtomicUsize,
        len: AtomicUsize,
        /// 1 + offset of the first lost byte; 0 while nothing is lost.
        lost: AtomicUsize,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Slot = Slot {
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        lost: AtomicUsize::new(0),
    };
    /// Maps alive at once: one per reader thread, plus a few for exports; beyond this, files
    /// are read with `read`.
    const SLOTS_N: usize = 64;
    static SLOTS: [Slot; SLOTS_N] = [EMPTY; SLOTS_N];
    static PAGE: AtomicUsize = AtomicUsize::new(4096);
    static OLD_HANDLER: AtomicUsize = AtomicUsize::new(0);
    static OLD_FLAGS: AtomicI32 = AtomicI32::new(0);
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    static INSTALL: Once = Once::new();

    fn install() -> bool {
        INSTALL.call_once(|| {
            // SAFETY: plain libc calls with valid, zero-initialised structures.
            unsafe {
                let page = libc::sysconf(libc::_SC_PAGESIZE);
                if page > 0 {
                    PAGE.store(page as usize, Ordering::Relaxed);
                }
                let mut old: libc::sigaction = std::mem::zeroed();
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_sigbus as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut sa.sa_mask);
                if libc::sigaction(libc::SIGBUS, &sa, &mut old) == 0 {
                    OLD_HANDLER.store(old.sa_sigaction, Ordering::Relaxed);
                    OLD_FLAGS.store(old.sa_flags, Ordering::Relaxed);
                    INSTALLED.store(true, Ordering::Release);
                }
            }
        });
        INSTALLED.load(Ordering::Acquire)
    }

    pub(super) fn new(file: &File) -> Option<GuardedMap> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() == 0 || !install() {
            return None;
        }
        // SAFETY: a read-only map; if the file shrinks while mapped, the SIGBUS handler
        // replaces the lost pages with zeros and `readable_to` reports it.
        let map = unsafe { memmap2::MmapOptions::new().map(file) }.ok()?;
        let start = map.as_ptr() as usize;
        let slot = SLOTS.iter().position(|s| {
            s.start
                .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        SLOTS[slot].lost.store(0, Ordering::Relaxed);
        SLOTS[slot].len.store(map.len(), Ordering::Release);
        Some(GuardedMap { slot, map })
    }

    pub(super) fn page() -> usize {
        PAGE.load(Ordering::Relaxed)
    }

    pub(super) fn lost_from(slot: usize) -> Option<usize> {
        match SLOTS[slot].lost.load(Ordering::Acquire) {
            0 => None,
            v => Some(v - 1),
        }
    }

    pub(super) fn unregister(slot: usize) {
        SLOTS[slot].len.store(0, Ordering::Release);
        SLOTS[slot].start.store(0, Ordering::Release);
    }

    /// Only async-signal-safe work: atomics, `mmap`, `sigaction`.
    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
        let addr = unsafe { (*info).si_addr() } as usize;
        let page = PAGE.load(Ordering::Relaxed);
        for s in &SLOTS {
            let start = s.start.load(Ordering::Acquire);
            let len = s.len.load(Ordering::Acquire);
            if start == 0 || len == 0 || addr < start || addr - start >= len {
                continue;
            }
            let from = addr & !(page - 1);
            let end = (start + len).div_ceil(page) * page;
            // SAFETY: [from, end) lies within this live map (it is unregistered before it is
            // unmapped); zero pages replace the file's lost ones, and the map's own munmap
            // later removes them.
            let r = unsafe {
                libc::mmap(
                    from as *mut c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if r != libc::MAP_FAILED {
                let lost = from.max(start) - start;
                let _ = s
                    .lost
                    .compare_exchange(0, lost + 1, Ordering::AcqRel, Ordering::Relaxed);
                return;
            }
        }
        // Not one of ours: what would have happened without this handler.
        let old = OLD_HANDLER.load(Ordering::Relaxed);
        // SAFETY: `old` is the handler sigaction returned, called the way its flags say.
        unsafe {
            if old == libc::SIG_DFL || old == libc::SIG_IGN {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
                // Returning re-runs the faulting access, which now takes the default action.
            } else if OLD_FLAGS.load(Ordering::Relaxed) & libc::SA_SIGINFO != 0 {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                    std::mem::transmute(old);
                f(sig, info, ctx);
            } else {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(old);
                f(sig);
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::fs::File;

    use super::GuardedMap;

    /// Without the SIGBUS guard, files are read with `read`.
    pub(super) fn new(_file: &File) -> Option<GuardedMap> {
        None
    }
    pub(super) fn lost_from(_slot: usize) -> Option<usize> {
        None
    }
    pub(super) fn page() -> usize {
        4096
    }
    pub(super) fn unregister(_slot: usize) {}
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file cut short after it was mapped: reading the lost part gives zeros instead of
    /// SIGBUS, and the loss is reported from the first lost page on.
    #[test]
    fn a_file_truncated_while_mapped_reports_the_loss() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        let mut f = File::create(&p).unwrap();
        f.write_all(&vec![7u8; 5 * 4096 + 100]).unwrap();
        drop(f);
        let file = File::open(&p).unwrap();
        let m = GuardedMap::new(&file).unwrap();
        assert!(m.readable_to(m.bytes().len()));
        assert_eq!(m.lost_from(), None);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(2 * 4096 + 10)
            .unwrap();
        // Still-present bytes read as before.
        assert!(m.readable_to(2 * 4096 + 10));
        assert_eq!(m.bytes()[2 * 4096 + 9], 7);
        // The page past the new end is lost.
        assert!(!m.readable_to(4 * 4096));
        assert_eq!(m.lost_from(), Some(3 * 4096));
        assert_eq!(m.bytes()[4 * 4096], 0);
        drop(m);
        // The slot is free again and a new map of the shorter file is whole.
        let m = GuardedMap::new(&file).unwrap();
        assert_eq!(m.lost_from(), None);
        assert!(m.readable_to(m.bytes().len()));
    }
}
