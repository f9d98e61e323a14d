//! What the firmware costs: its sections (from the runtime's linker symbols, the same names in `cortex-m-rt`
//! and `riscv-rt`) and the deepest stack use (the free stack is painted at start-up and read back).

/// Stack painting pattern.
const PAINT: u32 = 0xC0DE_F00D;

extern "C" {
    static __sheap: u32;
    static _stack_start: u32;
    static __stext: u32;
    static __etext: u32;
    static __srodata: u32;
    static __erodata: u32;
    static __sdata: u32;
    static __edata: u32;
    static __sbss: u32;
    static __ebss: u32;
}

fn addr(s: &u32) -> usize {
    s as *const u32 as usize
}

/// Fills the unused stack (from the end of static RAM up to 256 bytes below the current stack pointer) with
/// the pattern.
#[inline(never)]
pub fn paint_stack() {
    let here = 0u32;
    let sp = core::ptr::addr_of!(here) as usize - 256;
    // SAFETY: a linker symbol; only its address is taken, it is never read.
    let mut p = addr(unsafe { &__sheap });
    while p < sp {
        // SAFETY: [__sheap, sp) is RAM between the statics and the live stack, unused so far (no heap).
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Deepest stack use since [`paint_stack`], bytes.
pub fn stack_peak() -> usize {
    // SAFETY: linker symbols; only their addresses are taken, they are never read.
    let (bottom, top) = (addr(unsafe { &__sheap }), addr(unsafe { &_stack_start }));
    let mut p = bottom;
    // SAFETY: reads RAM inside the stack region.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}

/// Section sizes, bytes.
pub struct Sections {
    /// Code.
    pub text: usize,
    /// Constants (the model among them).
    pub rodata: usize,
    /// Initialized statics.
    pub data: usize,
    /// Zeroed statics.
    pub bss: usize,
}

/// The sections of this image.
pub fn sections() -> Sections {
    let span = |a: &u32, b: &u32| addr(b) - addr(a);
    // SAFETY: linker symbols that bound the sections; only their addresses are taken, they are never read.
    unsafe {
        Sections {
            text: span(&__stext, &__etext),
            rodata: span(&__srodata, &__erodata),
            data: span(&__sdata, &__edata),
            bss: span(&__sbss, &__ebss),
        }
    }
}
