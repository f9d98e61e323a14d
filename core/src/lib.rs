//! # quill-core
//!
//! `no_std` int8 inference for Embedding → LSTM or GRU → Dense text generators: zero-copy loading of a model file from
//! `&[u8]`, every buffer fixed in size, no allocator, no panics on any input.
//!
//! ```
//! use quill_core::{Generator, Model, SamplerConfig};
//! # let bytes = quill_core::testing::tiny_model_bytes();
//! // `bytes` is a model file: `include_bytes!("model.quill")` on a board, `std::fs::read` on a desktop.
//! let model = Model::from_bytes(&bytes)?;
//! // Up to 64-wide vectors, 1 recurrent layer, 40 top-k candidates: all state in this one value.
//! let config = SamplerConfig { temperature: 0.8, top_k: 40, ..SamplerConfig::GREEDY };
//! let mut gen: Generator<64, 1, 40> = Generator::new(&model, config, 7)?;
//! let mut text = String::new();
//! gen.prime("The people", &mut text, |_| {})?;
//! gen.generate(5, &mut text).unwrap();
//! assert!(text.starts_with("The people"));
//! // Same model, prompt, settings and seed: same text, on every platform.
//! gen.reset();
//! let mut again = String::new();
//! gen.prime("The people", &mut again, |_| {})?;
//! gen.generate(5, &mut again).unwrap();
//! assert_eq!(text, again);
//! # Ok::<(), quill_core::Error>(())
//! ```
//!
//! The public face, one line each:
//!
//! * [`Model`] — a model file, validated once by [`Model::from_bytes`] and borrowed in place;
//!   [`Hyper`], [`TokenizerSpec`], [`Vocab`], [`Tensor`], [`F32s`] are its read-only parts.
//! * [`Generator`] — all generation state in one fixed-size value: `prime`, `next_token`, `generate`, `logits`;
//!   [`State`] is where it stands in a text, saved and restored without allocating; `set_config` changes the
//!   sampler between two prompts.
//! * [`SamplerConfig`] — greedy, top-k, top-p, temperature, repetition penalty; [`sampler`] has the streaming
//!   pieces for hosts that make logits another way; [`Rng`] is the seeded PCG32 they draw from.
//! * [`Error`] (with [`TensorName`]) — the one error type; every variant says what was found.
//! * [`limits`] — every fixed limit: widths, layers, vocabulary, prompt bytes, penalty window.
//! * [`format`] — the file layout (`FORMAT.md` byte for byte), [`FORMAT_VERSION`], [`crc32`].
//! * [`text`] — normalization profiles, pieces, detokenizer (the trainer cleans corpora with the same code).
//! * [`kernels`] — the arithmetic: int8 products per CPU ([`Kernel`]), `exp`/`sigmoid`/`tanh`.
//! * With feature `alloc`: [`ModelBuilder`], [`OwnedTensor`], [`OwnedLayer`], [`quantize_row`] and
//!   [`Int4Scale`] — writing files.
//!
//! [`Precision`] and [`Primed`] are small values the generator hands back.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs, clippy::undocumented_unsafe_blocks)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "alloc")]
mod builder;
mod cell;
mod crc;
mod error;
pub mod format;
mod generator;
mod int4;
pub mod kernels;
pub mod limits;
mod model;
mod rng;
pub mod sampler;
mod tensor;
#[cfg(feature = "alloc")]
#[doc(hidden)]
pub mod testing;
pub mod text;
mod vocab;

#[cfg(feature = "alloc")]
pub use builder::{quantize_row, Int4Scale, ModelBuilder, OwnedLayer, OwnedTensor};
pub use crc::crc32;
pub use error::{Error, TensorName};
pub use format::{
    DType, Hyper, Level, ModelKind, Profile, TokenizerSpec, Unknown, FORMAT_VERSION, INT4_BLOCK,
    INT4_GROUP,
};
pub use generator::{Generator, Precision, Primed, State};
pub use kernels::Kernel;
pub use model::Model;
pub use rng::Rng;
pub use sampler::SamplerConfig;
pub use tensor::{F32s, Tensor};
pub use vocab::Vocab;
