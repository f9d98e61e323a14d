//! Arm MPS2 with the AN505 FPGA image (Cortex-M33, QEMU `mps2-an505`), running in the secure state as it boots:
//! CMSDK UART0 through its secure alias at 115200 8N1, SysTick as the counter, semihosting to stop.

use cortex_m::peripheral::SYST;

use super::cortex::{self, abort};
use super::{Board, Clock, Reg};

/// A register of this board.
const fn reg(addr: usize) -> Reg<u32> {
    // SAFETY: only called below, for the CMSDK APB UART0 registers (secure alias of 0x4020_0000, the address AN505
    // gives), word-aligned and readable and writable at any time.
    unsafe { Reg::at(addr) }
}

const UART0: usize = 0x5020_0000;
const DATA: Reg<u32> = reg(UART0);
const STATE: Reg<u32> = reg(UART0 + 0x04);
const CTRL: Reg<u32> = reg(UART0 + 0x08);
const BAUDDIV: Reg<u32> = reg(UART0 + 0x10);
/// The FPGA's main clock (AN505: 20 MHz), which feeds the core and the UART.
const MAINCLK_HZ: u32 = 20_000_000;

/// The AN505 board.
pub struct An505 {
    _syst: SYST,
}

impl An505 {
    /// Sets the serial port and the counter; `None` if the core peripherals were taken already.
    pub fn take() -> Option<Self> {
        let mut cp = cortex_m::Peripherals::take()?;
        BAUDDIV.write(MAINCLK_HZ / 115_200);
        CTRL.write(0b11);
        cortex::start(&mut cp.SYST);
        Some(Self { _syst: cp.SYST })
    }
}

impl Board for An505 {
    const NAME: &'static str = "mps2-an505";

    fn clock(&self) -> Clock {
        Clock {
            hz: MAINCLK_HZ,
            source: "fpga-mainclk",
        }
    }

    fn write_byte(&mut self, byte: u8) {
        while STATE.read() & 1 != 0 {}
        DATA.write(u32::from(byte));
    }

    fn read_byte(&mut self) -> u8 {
        while STATE.read() & 2 == 0 {}
        (DATA.read() & 0xFF) as u8
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
