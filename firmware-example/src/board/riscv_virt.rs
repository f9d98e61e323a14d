//! QEMU `virt` (RV32IMAC, one hart): NS16550A UART0 at 115200 8N1, `mcycle` as the cycle counter (under
//! `-icount` it counts instructions), the SiFive test device to stop QEMU.

use super::{Board, Clock};

/// A byte-wide memory-mapped register.
struct Reg(usize);

impl Reg {
    fn read(&self) -> u8 {
        // SAFETY: `Reg` is only built below for the NS16550A's registers at the address the `virt` machine's
        // device tree gives; byte reads have no side effect beyond the UART's own (RBR pops a byte).
        unsafe { core::ptr::read_volatile(self.0 as *const u8) }
    }

    fn write(&self, v: u8) {
        // SAFETY: as for `read`.
        unsafe { core::ptr::write_volatile(self.0 as *mut u8, v) }
    }
}

const UART: usize = 0x1000_0000;
const RBR_THR_DLL: Reg = Reg(UART);
const IER_DLM: Reg = Reg(UART + 1);
const FCR: Reg = Reg(UART + 2);
const LCR: Reg = Reg(UART + 3);
const LSR: Reg = Reg(UART + 5);
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
