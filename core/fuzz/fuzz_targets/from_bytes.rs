//! `Model::from_bytes` and generation must never panic or read out of bounds, whatever the bytes.
//!
//! The first input byte picks the shape: odd → the rest is a payload put behind a valid header and checksum, so
//! mutations reach the postcard decoder and every shape check; even → the rest is a whole file, header included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quill_core::testing::{exercise, with_header};

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((&mode, rest)) if mode & 1 == 1 => exercise(&with_header(rest)),
        Some((_, rest)) => exercise(rest),
        None => exercise(data),
    }
});
