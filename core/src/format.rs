//! Model file format, version 2 (reads 1 and 2). Byte-level description: `core/FORMAT.md`.
//!
//! A file is a fixed 16-byte header followed by a postcard payload:
//!
//! | offset | size | field                                       |
//! |--------|------|---------------------------------------------|
//! | 0      | 4    | magic `QUIL`                                |
//! | 4      | 2    | format version, u16 little-endian (1 or 2)  |
//! | 6      | 2    | reserved flags, u16 LE, must be 0           |
//! | 8      | 4    | payload length in bytes, u32 LE             |
//! | 12     | 4    | CRC-32 (IEEE) of the payload, u32 LE        |
//! | 16     | n    | payload: `RawModel` in postcard encoding    |
//!
//! Version 2 is the one version of this release for every addition it needs: the GRU model kind and the GRU's
//! separate `b_hn` (a field of every layer), 4-bit weights (a dtype), and the subword (BPE) tokenizer (a level,
//! byte-string tokens, and the merges beside the vocabulary). Version 1 files (LSTM, word/char) still load: they decode into
//! the same structure with the version-2 fields empty.

use serde::{Deserialize, Serialize};

use crate::limits::MAX_LAYERS;

/// First four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"QUIL";
/// The format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u16 = 2;
/// The oldest format version this build reads.
pub const OLDEST_FORMAT_VERSION: u16 = 1;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 16;

/// The architecture of the recurrent part. New kinds are appended (postcard encodes the variant index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ModelKind {
    /// Embedding → `layers` × LSTM → Dense, PyTorch gate order i, f, g, o (`torch.nn.LSTM`).
    Lstm,
    /// Embedding → `layers` × GRU → Dense, PyTorch gate order r, z, n (`torch.nn.GRU`); format version 2.
    Gru,
}

impl ModelKind {
    /// Gate rows per hidden unit in `W_ih` and `W_hh`: 4 for the LSTM, 3 for the GRU.
    pub const fn gates(self) -> usize {
        match self {
            Self::Lstm => 4,
            Self::Gru => 3,
        }
    }

    /// The cell's name as the trainer's `--cell` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Lstm => "lstm",
            Self::Gru => "gru",
        }
    }
}

/// Model dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hyper {
    /// Vocabulary size V (number of tokens, special tokens included).
    pub vocab: u32,
    /// Embedding width E.
    pub embed: u32,
    /// Recurrent hidden width H (every layer).
    pub hidden: u32,
    /// Number of stacked recurrent layers, 1..=[`MAX_LAYERS`].
    pub layers: u32,
}

/// How the tensor bytes are to be read. On the wire a tensor's dtype is a code ([`DType::code`]): `0` int8, `1`
/// f32, `3` int4; code `2` was the first int4 layout of development builds, retired (see `FORMAT.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DType {
    /// `rows*cols` int8 values in `[-127, 127]` plus one f32 scale per row: `w[r][c] = q[r][c] * scale[r]`.
    I8RowScaled,
    /// `rows*cols` f32 little-endian values, no scales (reference exports; the int8 path refuses them).
    F32,
    /// 4-bit weights in `[-7, 7]` with one f32 scale per row and a 6-bit multiplier (0..=63) per group of
    /// [`INT4_GROUP`] columns: `w[r][c] = q[r][c] * m[r][c / 32] * scale[r]` (format version 2, code 3; rows in
    /// blocks of [`INT4_BLOCK`], layout in `FORMAT.md`). The products stay exact integers up to the row scale, as
    /// for int8.
    I4GroupScaled,
}

/// Columns per group of an [`DType::I4GroupScaled`] tensor: one multiplier each.
pub const INT4_GROUP: usize = 32;

/// Rows per block of an [`DType::I4GroupScaled`] tensor: rows `r` and `r + 16` of a block share each byte (low and
/// high nibble), and the last block is padded with zero rows.
pub const INT4_BLOCK: usize = 32;

/// The largest int4 group multiplier: with `|q| ≤ 7` and `|x| ≤ 127` a row of 16,384 columns sums to at most
/// 16384·7·127·63 < 2³¹.
pub const INT4_MAX_MULTIPLIER: u8 = 63;

/// The wire code of the first int4 layout (row-major groups of 16 bytes), written by development builds before
/// 2026-12 and no longer read: [`crate::Error::UnsupportedDType`] asks for a new export.
pub const RETIRED_INT4_CODE: u32 = 2;

impl DType {
    /// Whether the integer path runs this dtype (int8 and int4).
    pub const fn is_integer(self) -> bool {
        matches!(self, Self::I8RowScaled | Self::I4GroupScaled)
    }

    /// The dtype's code in a model file.
    pub const fn code(self) -> u32 {
        match self {
            Self::I8RowScaled => 0,
            Self::F32 => 1,
            Self::I4GroupScaled => 3,
        }
    }

    /// The dtype of a file's code (`None` for the retired code 2 and unknown codes).
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(Self::I8RowScaled),
            1 => Some(Self::F32),
            3 => Some(Self::I4GroupScaled),
            _ => None,
        }
    }
}

/// Token granularity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    /// Tokens are words and punctuation marks; printed with spaces between words.
    Word,
    /// Tokens are single characters; printed as they are.
    Char,
    /// Tokens are byte strings: the 256 bytes and the byte-pair merges of `vocab.merges`, printed as the UTF-8
    /// text their bytes spell (`core::text::bpe`). Every text is representable: no unknown token.
    Bpe,
}

/// Text normalization profile, applied identically by the trainer (regex) and the core (hand-written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Profile {
    /// The seed notebook's cleaning, exactly: lowercase, drop everything but word characters, whitespace and `.`,
    /// drop a line break that precedes a word character, strip. Sentences end at `.`.
    Seed,
    /// A writer's cleaning: page markers removed, curly quotes and dashes normalized, words hyphenated across lines
    /// joined, lowercase, `. , ! ? ; : ' " -` kept as tokens, whitespace collapsed to single spaces.
    Default,
    /// `Default` without lowercasing: case survives ("The United States", "I"), so the detokenizer does not
    /// capitalize.
    Cased,
    /// Text as it is, for subword tokens that can spell anything: page markers removed and words hyphenated
    /// across lines joined (as `Default`), control characters dropped, every run of whitespace one space;
    /// case, symbols (`$ % ( ) €`), curly quotes, dashes and emoji kept.
    Text,
}

/// What happens to a prompt word that is not in the vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unknown {
    /// It becomes this token id (`<unk>`).
    Map(u32),
    /// It is dropped (the Keras `Tokenizer` default the seed used); callers are told how many were dropped.
    Skip,
}

/// How text becomes tokens and tokens become text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizerSpec {
    /// Word or character tokens.
    pub level: Level,
    /// Normalization profile the model was trained with.
    pub profile: Profile,
    /// Unknown-word policy.
    pub unknown: Unknown,
    /// Token that ends a sentence in the training data, if the vocabulary has a dedicated one (`.` for `seed`).
    pub sentence_end: Option<u32>,
    /// Capitalize the first letter of the text and of each word after `.`, `!` or `?` when printing.
    pub capitalize: bool,
}

/// One tensor as stored. Shapes are checked by [`crate::Model::from_bytes`].
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct RawTensor<'a> {
    /// [`DType::code`] (postcard writes it as the varint an enum index would be).
    pub dtype: u32,
    pub rows: u32,
    pub cols: u32,
    /// Row-major values: `rows*cols` bytes (int8) or `4*rows*cols` bytes (f32 LE).
    #[serde(borrow)]
    pub data: &'a [u8],
    /// `4*rows` bytes, f32 LE per-row scales (int8), empty for f32.
    #[serde(borrow)]
    pub scales: &'a [u8],
}

/// One recurrent layer as stored (version 2). G = 4 gates (LSTM) or 3 (GRU).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct RawLayer<'a> {
    /// Shape (G·H, in), in = E for layer 0 and H after.
    #[serde(borrow)]
    pub w_ih: RawTensor<'a>,
    /// Shape (G·H, H).
    #[serde(borrow)]
    pub w_hh: RawTensor<'a>,
    /// G·H f32 LE: `b_ih + b_hh` fused, except the GRU's n rows, which hold `b_in` alone.
    #[serde(borrow)]
    pub bias: &'a [u8],
    /// GRU: H f32 LE, `b_hn` (inside `r ⊙ (W_hn h + b_hn)`, so it cannot be fused). LSTM: empty.
    #[serde(borrow)]
    pub bias_hn: &'a [u8],
}

/// One LSTM layer as version 1 stored it (no `bias_hn`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct RawLayerV1<'a> {
    #[serde(borrow)]
    pub w_ih: RawTensor<'a>,
    #[serde(borrow)]
    pub w_hh: RawTensor<'a>,
    #[serde(borrow)]
    pub bias: &'a [u8],
}

/// The vocabulary as version 1 stored it (no merges).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct RawVocabV1<'a> {
    #[serde(borrow)]
    pub offsets: &'a [u8],
    /// UTF-8 (postcard writes `str` and bytes alike; validated by [`crate::vocab::Vocab`]).
    #[serde(borrow)]
    pub text: &'a [u8],
    #[serde(borrow)]
    pub sorted: &'a [u8],
}

/// The vocabulary as stored (version 2).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct RawVocab<'a> {
    /// (V+1) u32 LE byte offsets into `text`; token `i` is `text[off[i]..off[i+1]]`.
    #[serde(borrow)]
    pub offsets: &'a [u8],
    /// Concatenated token strings: UTF-8 for word and char levels, byte strings for BPE (postcard writes `str`
    /// and bytes alike, so the field is read as bytes and [`crate::vocab::Vocab`] checks UTF-8 per level).
    #[serde(borrow)]
    pub text: &'a [u8],
    /// V u32 LE token ids, sorted by their strings' bytes, for binary search.
    #[serde(borrow)]
    pub sorted: &'a [u8],
    /// BPE merges, 12 bytes each: `(left, right, merged)` u32 LE sorted by `(left, right)`; empty for word and
    /// char models (`FORMAT.md`).
    #[serde(borrow)]
    pub merges: &'a [u8],
}

/// The version-1 payload: the same fields as [`RawModel`] with version-1 layers and vocabulary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RawModelV1<'a> {
    pub kind: ModelKind,
    pub hyper: Hyper,
    pub tokenizer: TokenizerSpec,
    #[serde(borrow)]
    pub vocab: RawVocabV1<'a>,
    #[serde(borrow)]
    pub embedding: RawTensor<'a>,
    #[serde(borrow)]
    pub layers: heapless::Vec<RawLayerV1<'a>, MAX_LAYERS>,
    #[serde(borrow)]
    pub dense: Option<RawTensor<'a>>,
    #[serde(borrow)]
    pub dense_bias: &'a [u8],
    #[serde(borrow)]
    pub meta: &'a str,
}

impl<'a> RawModelV1<'a> {
    /// The same model in the version-2 structure (no `b_hn`, no merges).
    pub(crate) fn upgrade(self) -> RawModel<'a> {
        RawModel {
            kind: self.kind,
            hyper: self.hyper,
            tokenizer: self.tokenizer,
            vocab: RawVocab {
                offsets: self.vocab.offsets,
                text: self.vocab.text,
                sorted: self.vocab.sorted,
                merges: &[],
            },
            embedding: self.embedding,
            layers: self
                .layers
                .iter()
                .map(|l| RawLayer {
                    w_ih: l.w_ih,
                    w_hh: l.w_hh,
                    bias: l.bias,
                    bias_hn: &[],
                })
                .collect(),
            dense: self.dense,
            dense_bias: self.dense_bias,
            meta: self.meta,
        }
    }
}

/// The payload (version 2), in field order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RawModel<'a> {
    pub kind: ModelKind,
    pub hyper: Hyper,
    pub tokenizer: TokenizerSpec,
    #[serde(borrow)]
    pub vocab: RawVocab<'a>,
    /// Shape (V, E).
    #[serde(borrow)]
    pub embedding: RawTensor<'a>,
    #[serde(borrow)]
    pub layers: heapless::Vec<RawLayer<'a>, MAX_LAYERS>,
    /// Shape (V, H); `None` when tied to the embedding (needs E = H).
    #[serde(borrow)]
    pub dense: Option<RawTensor<'a>>,
    /// V f32 LE.
    #[serde(borrow)]
    pub dense_bias: &'a [u8],
    /// Free text from the trainer (corpus, settings, metrics), JSON by convention.
    #[serde(borrow)]
    pub meta: &'a str,
}
