//! Text generation on a Cortex-M4 from a model in flash, printed over semihosting, then a cost report.
//!
//! Output: `---TEXT---`, the text (byte-identical to `quill generate` with the same model, prompt, settings and
//! seed), `---END---`, then `report key=value` lines.
#![no_std]
#![no_main]
#![deny(clippy::undocumented_unsafe_blocks)]

use core::fmt::Write;

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hio};
use quill_core::{Generator, Model};

mod settings {
    include!(concat!(env!("OUT_DIR"), "/settings.rs"));
}

/// The model, in flash, read in place.
static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.quill"));

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

/// Fills the unused stack (from the end of static RAM up to 256 bytes below the current SP) with `PAINT`.
fn paint_stack() {
    // SAFETY: a linker symbol; only its address is taken, it is never read.
    let bottom = addr(unsafe { &__sheap });
    let sp = cortex_m::register::msp::read() as usize - 256;
    let mut p = bottom;
    while p < sp {
        // SAFETY: [bottom, sp) is RAM between the statics and the live stack, unused so far.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Deepest stack use since `paint_stack`, in bytes.
fn stack_high_water() -> usize {
    // SAFETY: linker symbols; only their addresses are taken, they are never read.
    let (bottom, top) = (addr(unsafe { &__sheap }), addr(unsafe { &_stack_start }));
    let mut p = bottom;
    // SAFETY: reads RAM inside the stack region.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}

fn exit(ok: bool) -> ! {
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    #[allow(clippy::empty_loop)] // reason: semihosting exit does not return under QEMU
    loop {}
}

#[entry]
fn main() -> ! {
    paint_stack();
    let mut out = match hio::hstdout() {
        Ok(o) => o,
        Err(()) => exit(false),
    };
    let ok = generate(&mut out).is_ok();
    exit(ok)
}

/// Text is collected in RAM and printed at the end, so the semihosting calls stay out of the timings.
fn generate(out: &mut hio::HostStream) -> Result<(), ()> {
    let model = match Model::from_bytes(MODEL) {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return Err(());
        }
    };
    let cp = cortex_m::Peripherals::take().ok_or(())?;
    let mut syst: SYST = cp.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(0x00FF_FFFF);
    syst.clear_current();
    syst.enable_counter();

    let mut gen: Generator<128, 1, 64> = match Generator::new(&model, settings::CONFIG, settings::SEED) {
        Ok(g) => g,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return Err(());
        }
    };
    let mut text: heapless::String<4096> = heapless::String::new();
    let mut ticks = [0u32; 256];
    let t0 = SYST::get_current();
    gen.prime(settings::PROMPT, &mut text, |_| {}).map_err(|_| ())?;
    let prime_ticks = t0.wrapping_sub(SYST::get_current()) & 0x00FF_FFFF;
    for t in ticks.iter_mut().take(settings::WORDS) {
        let start = SYST::get_current();
        let id = gen.next_token();
        *t = start.wrapping_sub(SYST::get_current()) & 0x00FF_FFFF;
        gen.write_token(id, &mut text).map_err(|_| ())?;
    }
    let n = settings::WORDS.min(ticks.len());
    let per = ticks.get_mut(..n).ok_or(())?;
    per.sort_unstable();
    let (min, med, max) = (per.first().copied().unwrap_or(0), per.get(n / 2).copied().unwrap_or(0), per.last().copied().unwrap_or(0));

    writeln!(out, "---TEXT---\n{text}\n---END---").map_err(|_| ())?;
    let span = |a: &u32, b: &u32| addr(b) - addr(a);
    // SAFETY: linker symbols that bound the sections; only their addresses are taken, they are never read.
    unsafe {
        let _ = writeln!(out, "report model_bytes={}", MODEL.len());
        let _ = writeln!(out, "report text={} rodata={}", span(&__stext, &__etext), span(&__srodata, &__erodata));
        let _ = writeln!(out, "report data={} bss={}", span(&__sdata, &__edata), span(&__sbss, &__ebss));
    }
    let _ = writeln!(out, "report stack_peak={}", stack_high_water());
    let _ = writeln!(out, "report generator_bytes={}", core::mem::size_of_val(&gen));
    let _ = writeln!(out, "report tokens={n} prime_ticks={prime_ticks}");
    let _ = writeln!(out, "report ticks_per_token min={min} median={med} max={max}");
    Ok(())
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(false)
}
