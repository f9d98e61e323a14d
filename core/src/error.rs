//! The one error type of `quill-core`.

use core::fmt;

/// Which tensor of a model an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TensorName {
    /// The token embedding, shape (V, E).
    Embedding,
    /// Input-to-hidden weights of LSTM layer `n`, shape (4H, E or H).
    LstmInput(u8),
    /// Hidden-to-hidden weights of LSTM layer `n`, shape (4H, H).
    LstmHidden(u8),
    /// Fused bias `b_ih + b_hh` of LSTM layer `n`, length 4H.
    LstmBias(u8),
    /// Input-to-hidden weights of GRU layer `n`, shape (3H, E or H).
    GruInput(u8),
    /// Hidden-to-hidden weights of GRU layer `n`, shape (3H, H).
    GruHidden(u8),
    /// Bias of GRU layer `n`, length 3H (`b_ih + b_hh` for r and z, `b_in` for n).
    GruBias(u8),
    /// The separate `b_hn` of GRU layer `n`, length H.
    GruHiddenBias(u8),
    /// The output projection, shape (V, H).
    Dense,
    /// The output bias, length V.
    DenseBias,
}

impl fmt::Display for TensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Embedding => f.write_str("embedding"),
            Self::LstmInput(l) => write!(f, "lstm[{l}].w_ih"),
            Self::LstmHidden(l) => write!(f, "lstm[{l}].w_hh"),
            Self::LstmBias(l) => write!(f, "lstm[{l}].bias"),
            Self::GruInput(l) => write!(f, "gru[{l}].w_ih"),
            Self::GruHidden(l) => write!(f, "gru[{l}].w_hh"),
            Self::GruBias(l) => write!(f, "gru[{l}].bias"),
            Self::GruHiddenBias(l) => write!(f, "gru[{l}].b_hn"),
            Self::Dense => f.write_str("dense.weight"),
            Self::DenseBias => f.write_str("dense.bias"),
        }
    }
}

/// Everything that can go wrong when loading, writing or running a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are shorter than the fixed 16-byte header, or than the payload length it announces.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        found: usize,
    },
    /// The first four bytes are not `QUIL`: this is not a Quill model file.
    BadMagic,
    /// The file was written by a newer (or unknown) format version.
    UnsupportedVersion {
        /// Version in the file.
        found: u16,
        /// Newest version this build reads (it reads every version from 1 to this one).
        supported: u16,
    },
    /// The CRC32 of the payload does not match the header: the file is damaged.
    ChecksumMismatch {
        /// CRC32 stored in the header.
        expected: u32,
        /// CRC32 of the bytes present.
        found: u32,
    },
    /// The header's reserved flags are not 0: the file needs a newer reader.
    UnsupportedFlags {
        /// The flags in the header.
        found: u16,
    },
    /// Bytes follow the payload the header announces, or follow the decoded model inside the payload.
    TrailingBytes {
        /// How many bytes are left over.
        count: usize,
    },
    /// The payload is not a valid postcard encoding of the model.
    Malformed,
    /// The model kind (the payload's first field) is not one this build can run.
    UnsupportedModelKind {
        /// The kind's index in the file (`0` = LSTM, `1` = GRU from format version 2).
        found: u32,
    },
    /// A hyper-parameter is zero or out of the supported range.
    BadHyperParameter {
        /// Which one (`vocab`, `embed`, `hidden`, `layers`).
        name: &'static str,
        /// Its value.
        value: u32,
    },
    /// A tensor's shape or byte length disagrees with the hyper-parameters.
    ShapeMismatch {
        /// The tensor.
        tensor: TensorName,
        /// Elements (or bytes) expected.
        expected: usize,
        /// Elements (or bytes) found.
        found: usize,
    },
    /// A scale or bias is NaN, infinite, or a scale is negative.
    NonFiniteParameter {
        /// The tensor.
        tensor: TensorName,
    },
    /// An int8 weight is -128, outside the symmetric range `[-127, 127]` the kernels rely on.
    WeightOutOfRange {
        /// The tensor.
        tensor: TensorName,
        /// Index of the first such weight, row-major.
        index: usize,
    },
    /// The vocabulary is not valid UTF-8, its offsets are not increasing, or a token is empty.
    BadVocabulary,
    /// The sorted index is not a permutation of token ids sorted by their strings (or has duplicates).
    UnsortedIndex,
    /// A special token id (`<unk>`, sentence end) is not below the vocabulary size.
    TokenOutOfRange {
        /// The id.
        id: u32,
        /// The vocabulary size.
        vocab: u32,
    },
    /// A fixed buffer is too small for this model: build the generator with larger capacities.
    CapacityTooSmall {
        /// What the buffer holds (`hidden`, `embed`, `layers`, `top_k`, `prompt`, `window`, `output`).
        what: &'static str,
        /// What the model or call needs.
        needed: usize,
        /// What the buffer has.
        capacity: usize,
    },
    /// The `core::fmt::Write` the text goes to returned an error (a full buffer, a closed port, ...).
    WriteFailed,
    /// The int8 path was asked to run a model stored in f32; use the float path or export it as int8.
    NotQuantized,
    /// A tensor's dtype code is not one this build reads: the retired first int4 layout (code 2, development
    /// builds before 2026-12) or a code from a newer writer.
    UnsupportedDType {
        /// The tensor.
        tensor: TensorName,
        /// The code in the file.
        found: u32,
    },
    /// A sampling setting is out of range (temperature ≤ 0, top-p outside (0, 1], penalty < 1, ...).
    BadSamplingConfig {
        /// Which setting.
        name: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { needed, found } => {
                write!(f, "model file truncated: needs {needed} bytes, has {found}; re-export or re-copy it")
            }
            Self::BadMagic => f.write_str("not a Quill model file (magic is not `QUIL`); pass a file made by `quill export`"),
            Self::UnsupportedVersion { found, supported } => write!(
                f,
                "model format version {found} is not supported (this build reads versions 1 to {supported}); \
                 re-export with a matching `quill` or upgrade quill-core"
            ),
            Self::ChecksumMismatch { expected, found } => write!(
                f,
                "model checksum mismatch (header {expected:#010x}, payload {found:#010x}): the file is damaged; re-export or re-copy it"
            ),
            Self::UnsupportedFlags { found } => write!(
                f,
                "model header flags {found:#06x} are not supported (this build knows none); upgrade quill-core"
            ),
            Self::TrailingBytes { count } => write!(
                f,
                "model file has {count} bytes past its end; re-copy it (a flash image padded after the model \
                 must pass only the model's bytes)"
            ),
            Self::Malformed => f.write_str("model payload is malformed; re-export it with `quill export`"),
            Self::UnsupportedModelKind { found } => write!(
                f,
                "model kind {found} is not supported by this build of quill-core (it runs 0 = LSTM and, from format version 2, 1 = GRU); upgrade quill-core"
            ),
            Self::BadHyperParameter { name, value } => write!(f, "model hyper-parameter `{name}` = {value} is out of range"),
            Self::ShapeMismatch { tensor, expected, found } => {
                write!(f, "tensor {tensor}: expected {expected} elements, found {found}")
            }
            Self::NonFiniteParameter { tensor } => write!(f, "tensor {tensor} has a NaN, infinite or negative scale/bias"),
            Self::WeightOutOfRange { tensor, index } => write!(
                f,
                "tensor {tensor} has the int8 weight -128 at index {index} (the format allows -127..=127); re-export it"
            ),
            Self::BadVocabulary => f.write_str("vocabulary is not valid (offsets, UTF-8 or empty token)"),
            Self::UnsortedIndex => f.write_str("vocabulary index is not sorted or not a permutation"),
            Self::TokenOutOfRange { id, vocab } => write!(f, "token id {id} is out of range for vocabulary size {vocab}"),
            Self::CapacityTooSmall { what, needed, capacity } => write!(
                f,
                "buffer `{what}` holds {capacity} but {needed} are needed; raise the generator's capacity"
            ),
            Self::WriteFailed => f.write_str("writing the text failed: the output (buffer, port, stream) refused it"),
            Self::NotQuantized => f.write_str("the int8 path needs an int8 model; export without `--float` or use the float path"),
            Self::BadSamplingConfig { name } => write!(f, "sampling setting `{name}` is out of range"),
            Self::UnsupportedDType { tensor, found: crate::format::RETIRED_INT4_CODE } => write!(
                f,
                "{tensor} is stored in the first int4 layout (dtype 2, development builds before 2026-12), which \
                 this build no longer reads; export the checkpoint again (`quill export CHECKPOINT --weights int4`)"
            ),
            Self::UnsupportedDType { tensor, found } => write!(
                f,
                "{tensor} has dtype {found}, which this build does not know; upgrade quill-core or export it as int8"
            ),
        }
    }
}

impl core::error::Error for Error {}
