//! The board's line editor: bytes from the serial port in, a line out at Enter. It echoes what is typed (a
//! serial terminal shows nothing otherwise), handles backspace, takes CR, LF or CR LF as Enter, and refuses a
//! line that does not fit or is not UTF-8 rather than cutting it.

use heapless::Vec;

/// Longest line, bytes.
pub const LINE_BYTES: usize = 256;

/// What a byte completed.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Nothing yet.
    Pending,
    /// A line (without its line end).
    Line(&'a str),
    /// The line was longer than [`LINE_BYTES`].
    TooLong,
    /// The line was not UTF-8.
    NotUtf8,
}

/// A line being typed.
#[derive(Default)]
pub struct Editor {
    buf: Vec<u8, LINE_BYTES>,
    overflow: bool,
    after_cr: bool,
    done: bool,
}

impl Editor {
    /// Takes one byte; `echo` receives what to send back.
    pub fn push(&mut self, byte: u8, mut echo: impl FnMut(&[u8])) -> Event<'_> {
        if self.done {
            self.buf.clear();
            self.overflow = false;
            self.done = false;
        }
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match byte {
            b'\n' if after_cr => Event::Pending,
            b'\r' | b'\n' => {
                echo(b"\r\n");
                self.done = true;
                if self.overflow {
                    Event::TooLong
                } else {
                    core::str::from_utf8(&self.buf).map_or(Event::NotUtf8, Event::Line)
                }
            }
            0x08 | 0x7F => {
                // Remove one character: continuation bytes, then its first byte.
                while let Some(b) = self.buf.pop() {
                    if b & 0xC0 != 0x80 {
                        break;
                    }
                }
                echo(b"\x08 \x08");
                Event::Pending
            }
            b => {
                if self.buf.push(b).is_err() {
                    self.overflow = true;
                }
                echo(&[b]);
                Event::Pending
            }
        }
    }
}
