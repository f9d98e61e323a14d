//! The subcommands, one file each (as cargo's `commands/`): each declares its flags (clap derive), turns them into
//! the library's settings and calls it. `main.rs` only dispatches.

pub mod eval;
pub mod export;
pub mod generate;
pub mod inspect;
pub mod study;
pub mod train;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The flag Ctrl-C sets: the training loop notices it, saves and exits; a second Ctrl-C kills as usual.
fn interrupt_flag() -> Arc<AtomicBool> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    interrupt
}
