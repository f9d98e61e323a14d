//! What the Cortex-M boards share: SysTick as the cycle counter (the core clock, counting down from 2²⁴ − 1) and
//! semihosting to stop.

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_semihosting::debug;

/// The reload value: the full 24 bits.
const RELOAD: u32 = 0x00FF_FFFF;

/// Starts SysTick free-running on the core clock.
pub fn start(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_counter();
}

/// The current count.
pub fn now() -> u32 {
    SYST::get_current()
}

/// Ticks from `start` to `end` (it counts down; at most one wrap, 2²⁴ cycles, apart).
pub fn elapsed(start: u32, end: u32) -> u32 {
    start.wrapping_sub(end) & RELOAD
}

/// Ends the program: semihosting exit under QEMU or a debugger; without one, a breakpoint that halts the core.
pub fn abort(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)] // reason: semihosting exit does not return under QEMU
    loop {}
}
