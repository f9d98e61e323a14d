//! The subcommands, one file each (as cargo's `commands/`): each declares its flags (clap derive), turns them into
//! the library's settings and calls it. `main.rs` only dispatches.

pub mod eval;
pub mod export;
pub mod generate;
pub mod inspect;
pub mod study;
pub mod train;
