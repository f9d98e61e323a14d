//! The board layer: what the application needs of a board — a serial port, a cycle counter, its clock and a way
//! to stop — and one implementation per supported board, chosen by the target:
//!
//! | target | board | serial port | counter |
//! |---|---|---|---|
//! | `thumbv7em-none-eabihf` | STM32F405 (QEMU `netduinoplus2`; Nucleo / Discovery boards) | USART2, PA2 TX / PA3 RX | SysTick |
//! | `thumbv8m.main-none-eabihf` | Arm MPS2 AN505, Cortex-M33 (QEMU `mps2-an505`) | CMSDK UART0 | SysTick |
//! | `riscv32imac-unknown-none-elf` | QEMU `virt` (RV32) | NS16550A UART0 | `mcycle` |
//! | `thumbv6m-none-eabi` | build-only (Cortex-M0+: no DSP, no FPU): the STM32 layer | — | — |
//!
//! Every register access is in these files; the application above them is the same on every board.

// `build.rs` sets `quill_board` from the target.
#[cfg(quill_board = "stm32f405")]
mod stm32f405;
#[cfg(quill_board = "stm32f405")]
pub use stm32f405::Stm32f405 as Current;

#[cfg(quill_board = "an505")]
mod an505;
#[cfg(quill_board = "an505")]
pub use an505::An505 as Current;

#[cfg(quill_board = "riscv_virt")]
mod riscv_virt;
#[cfg(quill_board = "riscv_virt")]
pub use riscv_virt::{abort, RiscvVirt as Current};

#[cfg(target_arch = "arm")]
mod cortex;
#[cfg(target_arch = "arm")]
pub use cortex::abort;

/// A memory-mapped device register of width `T` (`u8` or `u32`) at a fixed address: the one volatile access
/// path of every board. Each board builds its registers through one `const fn` whose SAFETY line says why its
/// addresses qualify.
pub struct Reg<T>(usize, core::marker::PhantomData<T>);

impl<T: Copy> Reg<T> {
    /// The register at `addr`.
    ///
    /// # Safety
    /// `addr` is a device register of width `T`, aligned for it, that may be read and written at any time (an
    /// access does nothing beyond what the device itself does on it).
    pub const unsafe fn at(addr: usize) -> Self {
        Self(addr, core::marker::PhantomData)
    }

    /// Reads the register.
    pub fn read(&self) -> T {
        // SAFETY: `at`'s contract: a readable device register of width `T`, aligned.
        unsafe { core::ptr::read_volatile(self.0 as *const T) }
    }

    /// Writes the register.
    pub fn write(&self, v: T) {
        // SAFETY: `at`'s contract: a writable device register of width `T`, aligned.
        unsafe { core::ptr::write_volatile(self.0 as *mut T, v) }
    }
}

/// The core clock a board runs at.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// Core clock, Hz.
    pub hz: u32,
    /// Where it comes from, for the banner and the report (one word, no spaces).
    pub source: &'static str,
}

/// What the application needs of a board.
pub trait Board {
    /// The board's name in the banner and the report.
    const NAME: &'static str;

    /// The core clock as configured at start-up.
    fn clock(&self) -> Clock;

    /// Sends one byte over the serial port (waits while the transmitter is busy).
    fn write_byte(&mut self, byte: u8);

    /// Waits for one byte from the serial port.
    fn read_byte(&mut self) -> u8;

    /// A free-running counter of core clock cycles ([`Clock::hz`] per second; under QEMU `-icount` a count of
    /// QEMU's virtual clock).
    fn now(&self) -> u32;

    /// Counter ticks from `start` to `end` (two [`Board::now`] readings less than a wrap apart).
    fn elapsed(&self, start: u32, end: u32) -> u32;

    /// Stops the program with a status (under QEMU: its exit status; on a real board it halts).
    fn exit(&mut self, ok: bool) -> !;
}
