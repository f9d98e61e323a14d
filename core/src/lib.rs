//! # quill-core
//!
//! `no_std` int8 inference for Embedding → LSTM → Dense text generators: zero-copy loading of a model file from
//! `&[u8]`, every buffer fixed in size, no allocator, no panics on any input.
//!
//! ```
//! use quill_core::{Generator, Model, SamplerConfig};
//! # let bytes = quill_core::testing::tiny_model_bytes();
//! // `bytes` is a model file: `include_bytes!("model.quill")` on a board, `std::fs::read` on a desktop.
//! let model = Model::from_bytes(&bytes)?;
//! // Up to 64-wide vectors, 1 LSTM layer, 40 top-k candidates: all state in this one value.
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
//! The file format is described in `FORMAT.md` and [`format`]; the arithmetic in [`kernels`].
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
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
mod crc;
mod error;
pub mod format;
mod generator;
pub mod kernels;
mod model;
mod rng;
mod sampler;
mod tensor;
#[cfg(feature = "alloc")]
pub mod testing;
pub mod text;
mod vocab;

#[cfg(feature = "alloc")]
pub use builder::{quantize_row, ModelBuilder, OwnedLayer, OwnedTensor};
pub use crc::crc32;
pub use error::{Error, TensorName};
pub use format::{DType, Hyper, Level, ModelKind, Profile, TokenizerSpec, Unknown, FORMAT_VERSION};
pub use generator::{Discard, Generator, Precision, Primed, PROMPT_BYTES};
pub use kernels::Kernel;
pub use model::{Layer, Model, MAX_VOCAB, MAX_WIDTH};
pub use rng::Rng;
pub use sampler::{Penalty, SamplerConfig, Selector, MAX_PENALTY_WINDOW, TOP_P_CANDIDATES};
pub use tensor::{F32s, Tensor};
pub use vocab::Vocab;
