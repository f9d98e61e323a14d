//! STM32F405 (QEMU `netduinoplus2`; the STM32F4 Nucleo and Discovery boards): the core at 168 MHz from the PLL,
//! USART2 at 115200 8N1 on PA2 (TX) / PA3 (RX) — the ST-LINK virtual COM port of the Nucleo boards — and SysTick
//! as the cycle counter.
//!
//! Registers by hand rather than `stm32f4xx-hal`: the HAL's clock set-up waits for the PLL without a bound, and
//! QEMU does not model this chip's RCC (its registers read as zero), so the firmware would hang there. Here every
//! wait is bounded: if the PLL does not lock, the board stays on the 16 MHz HSI and says so.

use cortex_m::peripheral::SYST;

use super::cortex::{self, abort};
use super::{Board, Clock, Reg};

/// A register of this board.
const fn reg(addr: usize) -> Reg<u32> {
    // SAFETY: only called below, for the STM32F405's documented peripheral registers (RM0090), which are
    // word-aligned and readable and writable at any time; the values written are the ones RM0090 documents.
    unsafe { Reg::at(addr) }
}

/// Read-modify-write, for the register fields set-up changes.
trait Modify {
    fn modify(&self, f: impl FnOnce(u32) -> u32);
}

impl Modify for Reg<u32> {
    fn modify(&self, f: impl FnOnce(u32) -> u32) {
        self.write(f(self.read()));
    }
}

const RCC: usize = 0x4002_3800;
const RCC_CR: Reg<u32> = reg(RCC);
const RCC_PLLCFGR: Reg<u32> = reg(RCC + 0x04);
const RCC_CFGR: Reg<u32> = reg(RCC + 0x08);
const RCC_AHB1ENR: Reg<u32> = reg(RCC + 0x30);
const RCC_APB1ENR: Reg<u32> = reg(RCC + 0x40);
const FLASH_ACR: Reg<u32> = reg(0x4002_3C00);
const GPIOA: usize = 0x4002_0000;
const GPIOA_MODER: Reg<u32> = reg(GPIOA);
const GPIOA_PUPDR: Reg<u32> = reg(GPIOA + 0x0C);
const GPIOA_AFRL: Reg<u32> = reg(GPIOA + 0x20);
const USART2: usize = 0x4000_4400;
const USART_SR: Reg<u32> = reg(USART2);
const USART_DR: Reg<u32> = reg(USART2 + 0x04);
const USART_BRR: Reg<u32> = reg(USART2 + 0x08);
const USART_CR1: Reg<u32> = reg(USART2 + 0x0C);

/// Polls of a ready flag before giving up (the PLL locks in ~100 µs; a poll takes a few cycles at 16 MHz).
const MAX_POLLS: u32 = 200_000;
const BAUD: u32 = 115_200;
const HSI_HZ: u32 = 16_000_000;
const PLL_HZ: u32 = 168_000_000;

/// Waits until `ready()`, at most [`MAX_POLLS`] times; whether it became ready.
fn wait(ready: impl Fn() -> bool) -> bool {
    (0..MAX_POLLS).any(|_| ready())
}

/// The PLL from the HSI: 16 MHz / M 16 × N 336 / P 2 = 168 MHz (Q 7: 48 MHz for USB), five flash wait states
/// with prefetch and caches (RM0090 table 10, 2.7–3.6 V), AHB /1, APB1 /4 (42 MHz), APB2 /2 (84 MHz).
/// Returns the core clock and the APB1 clock it got.
fn clocks() -> (Clock, u32) {
    let hsi = (
        Clock {
            hz: HSI_HZ,
            source: "hsi-16mhz-pll-did-not-lock",
        },
        HSI_HZ,
    );
    // M, N, P, source and Q; the reserved bits keep their reset values.
    RCC_PLLCFGR.modify(|v| (v & !0x0F43_7FFF) | 16 | (336 << 6) | (7 << 24));
    RCC_CR.modify(|v| v | 1 << 24);
    if !wait(|| RCC_CR.read() & (1 << 25) != 0) {
        return hsi;
    }
    FLASH_ACR.write(5 | 1 << 8 | 1 << 9 | 1 << 10);
    if FLASH_ACR.read() & 0xF != 5 {
        return hsi;
    }
    RCC_CFGR.modify(|v| (v & !0xFFF3) | (0b101 << 10) | (0b100 << 13) | 0b10);
    if !wait(|| (RCC_CFGR.read() >> 2) & 0b11 == 0b10) {
        return hsi;
    }
    (
        Clock {
            hz: PLL_HZ,
            source: "pll-from-hsi",
        },
        PLL_HZ / 4,
    )
}

/// USART2 on PA2/PA3 (alternate function 7), 115200 8N1 at `apb1_hz`.
fn usart2(apb1_hz: u32) {
    RCC_AHB1ENR.modify(|v| v | 1);
    RCC_APB1ENR.modify(|v| v | 1 << 17);
    GPIOA_MODER.modify(|v| (v & !(0b1111 << 4)) | (0b1010 << 4));
    GPIOA_PUPDR.modify(|v| (v & !(0b11 << 6)) | (0b01 << 6));
    GPIOA_AFRL.modify(|v| (v & !(0xFF << 8)) | (0x77 << 8));
    USART_BRR.write((apb1_hz + BAUD / 2) / BAUD);
    USART_CR1.write(1 << 13 | 1 << 3 | 1 << 2);
}

/// The STM32F405 board.
pub struct Stm32f405 {
    clock: Clock,
    _syst: SYST,
}

impl Stm32f405 {
    /// Sets the clocks, the serial port and the counter; `None` if the core peripherals were taken already.
    pub fn take() -> Option<Self> {
        let mut cp = cortex_m::Peripherals::take()?;
        let (clock, apb1) = clocks();
        usart2(apb1);
        cortex::start(&mut cp.SYST);
        Some(Self {
            clock,
            _syst: cp.SYST,
        })
    }
}

impl Board for Stm32f405 {
    const NAME: &'static str = "stm32f405";

    fn clock(&self) -> Clock {
        self.clock
    }

    fn write_byte(&mut self, byte: u8) {
        // TXE; QEMU keeps it set.
        while USART_SR.read() & (1 << 7) == 0 {}
        USART_DR.write(u32::from(byte));
    }

    fn read_byte(&mut self) -> u8 {
        // RXNE (reading SR then DR also clears an overrun).
        while USART_SR.read() & (1 << 5) == 0 {}
        (USART_DR.read() & 0xFF) as u8
    }

    fn now(&self) -> u32 {
        cortex::now()
    }

    fn elapsed(&self, start: u32, end: u32) -> u32 {
        cortex::elapsed(start, end)
    }

    fn exit(&mut self, ok: bool) -> ! {
        abort(ok)
    }
}
