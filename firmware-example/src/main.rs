//! quill-core on a board: text generated from a model in flash, streamed over the serial port token by token.
//!
//! * `QUILL_MODE=interactive` (the default): a prompt on the serial port — type text and the board continues
//!   it; `:temp 0.8`, `:topk 40`, `:seed 7`, `:words 60`, `:reset`, ... change the sampler (`:help`).
//! * `QUILL_MODE=batch`: continues the built-in prompt once (`---TEXT---` … `---END---`, byte-identical to
//!   `quill generate` with the same model, prompt, settings and seed), prints `report key=value` lines and stops.
//!
//! Modules: [`board`] — one file per board (serial port, counter, clock, stop); [`app`] — the two modes over
//! any board; [`command`] — the `:commands`; [`line`] — the line editor; [`report`] — sections and stack use.
#![no_std]
#![no_main]
#![deny(clippy::undocumented_unsafe_blocks)]

mod app;
mod board;
mod command;
mod line;
mod report;

mod settings {
    include!(concat!(env!("OUT_DIR"), "/settings.rs"));
}

/// The model, in flash, read in place.
static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.quill"));

#[cfg(target_arch = "arm")]
#[cortex_m_rt::entry]
fn main() -> ! {
    start()
}

#[cfg(target_arch = "riscv32")]
#[riscv_rt::entry]
fn main() -> ! {
    start()
}

fn start() -> ! {
    report::paint_stack();
    match board::Current::take() {
        Some(b) => app::run(b, MODEL),
        None => board::abort(false),
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    board::abort(false)
}
