//! Text in and out: normalization profiles, splitting into pieces, vocabulary lookup, detokenization, and
//! byte-pair encoding ([`bpe`]).
//!
//! Everything here works on borrowed strings and fixed buffers; the trainer reuses [`pieces`] and
//! [`Detokenizer`] and re-implements [`normalize`] with `regex`, and a property test checks that both agree.

pub mod bpe;
mod detok;
mod normalize;
mod pieces;

pub use detok::Detokenizer;
pub use normalize::{is_space, is_word, normalize, NormBuf, TextBuf};
pub use pieces::{pieces, Piece};
