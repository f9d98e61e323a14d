//! QEMU `virt` (RV32IMAC, one hart): NS16550A UART0 at 115200 8N1, `mcycle` as the cycle counter (under
//! `-icount` it counts instructions), the SiFive test device to stop QEMU.

use super::{Board, Clock, Reg};

/// A byte-wide register of this board.
const fn reg(addr: usize) -> Reg<u8> {
    // SAFETY: only called below, for the NS16550A's registers at the address the `virt` machine's device tree
    // gives; byte accesses have no side effect beyond the UART's own (reading RBR pops a byte).
    unsafe { Reg::at(addr) }
}

const UART: usize = 0x1000_0000;
const RBR_THR_DLL: Reg<u8> = reg(UART);
const IER_DLM: Reg<u8> = reg(UART + 1);
const FCR: Reg<u8> = reg(UART + 2);
const LCR: Reg<u8> = reg(UART + 3);
const LSR: Reg<u8> = reg(UART + 5);
/// The `virt` machine's UART clock (its device tree says 3.6864 MHz): divisor 2 for 115200 baud.
const DIVISOR: u8 = 2;
/// SiFive test device ("finisher"): writing 0x5555 stops QEMU with status 0, `code << 16 | 0x3333` with `code`.
const FINISHER: usize = 0x0010_0000;

/// The `virt` board.
pub struct RiscvVirt;

impl RiscvVirt {
    /// Sets the serial port up (8N1, FIFOs on, no interrupts).
    pub fn take() -> Option<Self> {
        LCR.write(0x80);
        RBR_THR_DLL.write(DIVISOR);
        IER_DLM.write(0);
        LCR.write(0x03);
        FCR.write(0x07);
        IER_DLM.write(0);
        Some(Self)
    }
}

impl Board for RiscvVirt {
    const NAME: &'static str = "riscv32-virt";

    fn clock(&self) -> Clock {
        // A model, not a chip: no clock to set; the counter counts instructions under `-icount`.
        Clock {
            hz: 0,
            source: "qemu-virt-no-clock",
        }
    }

    fn write_byte(&mut self, byte: u8) {
        while LSR.read() & (1 << 5) == 0 {}
        RBR_THR_DLL.write(byte);
    }

    fn read_byte(&mut self) -> u8 {
        while LSR.read() & 1 == 0 {}
        RBR_THR_DLL.read()
    }

    fn now(&self) -> u32 {
        riscv::register::mcycle::read() as u32
    }

    fn elapsed(&self, start: u32, end: u32) -> u32 {
        end.wrapping_sub(start)
    }

    fn exit(&mut self, ok: bool) -> ! {
        abort(ok)
    }
}

/// Stops QEMU through the test device.
pub fn abort(ok: bool) -> ! {
    let code: u32 = if ok { 0x5555 } else { (1 << 16) | 0x3333 };
    // SAFETY: the SiFive test device's register on the `virt` machine; a word write stops the machine.
    unsafe { core::ptr::write_volatile(FINISHER as *mut u32, code) };
    #[allow(clippy::empty_loop)] // reason: QEMU stops on the write above
    loop {}
}
