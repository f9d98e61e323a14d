//! SysTick as the cycle counter of the Cortex-M boards: the core clock, counting down from 2²⁴ − 1.

use cortex_m::peripheral::{syst::SystClkSource, SYST};

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
