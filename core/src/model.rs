//! [`Model`]: a validated, zero-copy view of a model file.

use crate::crc::crc32;
use crate::error::{Error, TensorName};
use crate::format::{
    Hyper, Level, ModelKind, RawModel, RawModelV1, TokenizerSpec, Unknown, FORMAT_VERSION,
    HEADER_LEN, MAGIC, OLDEST_FORMAT_VERSION,
};
use crate::limits::{MAX_LAYERS, MAX_VOCAB, MAX_WIDTH};
use crate::tensor::{F32s, Tensor};
use crate::vocab::Vocab;

/// One recurrent layer; G = 4 (LSTM, gate rows i, f, g, o) or 3 (GRU, gate rows r, z, n).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layer<'a> {
    /// Shape (G·H, in), gate-major rows; per-row scale.
    pub(crate) w_ih: Tensor<'a>,
    /// Shape (G·H, H), same row order.
    pub(crate) w_hh: Tensor<'a>,
    /// G·H values: `b_ih + b_hh`, except the GRU's n rows (`b_in` alone).
    pub(crate) bias: F32s<'a>,
    /// GRU: H values `b_hn`; LSTM: empty.
    pub(crate) bias_hn: F32s<'a>,
}

/// A model borrowed from its file bytes. Every shape, scale and index was checked by [`Model::from_bytes`].
#[derive(Clone, Debug)]
pub struct Model<'a> {
    pub(crate) kind: ModelKind,
    pub(crate) version: u16,
    pub(crate) hyper: Hyper,
    pub(crate) tokenizer: TokenizerSpec,
    pub(crate) vocab: Vocab<'a>,
    /// Shape (V, E).
    pub(crate) embedding: Tensor<'a>,
    pub(crate) layers: heapless::Vec<Layer<'a>, MAX_LAYERS>,
    /// Shape (V, H); the embedding itself when tied.
    pub(crate) dense: Tensor<'a>,
    pub(crate) tied: bool,
    /// V values.
    pub(crate) dense_bias: F32s<'a>,
    pub(crate) meta: &'a str,
    pub(crate) file_len: usize,
}

/// Splits off and checks the header; returns the format version and the payload.
fn payload(bytes: &[u8]) -> Result<(u16, &[u8]), Error> {
    let header = bytes.get(..HEADER_LEN).ok_or(Error::Truncated {
        needed: HEADER_LEN,
        found: bytes.len(),
    })?;
    let word = |i: usize| {
        header
            .get(i..i + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
            .unwrap_or(0)
    };
    if header.get(..4) != Some(&MAGIC[..]) {
        return Err(Error::BadMagic);
    }
    let version = u16::from_le_bytes([
        header.get(4).copied().unwrap_or(0),
        header.get(5).copied().unwrap_or(0),
    ]);
    if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let (flags, len, crc) = (word(4) >> 16, word(8) as usize, word(12));
    if flags != 0 {
        return Err(Error::UnsupportedFlags {
            found: flags as u16,
        });
    }
    let needed = HEADER_LEN.saturating_add(len);
    let payload = bytes.get(HEADER_LEN..needed).ok_or(Error::Truncated {
        needed,
        found: bytes.len(),
    })?;
    if bytes.len() != needed {
        return Err(Error::TrailingBytes {
            count: bytes.len() - needed,
        });
    }
    let found = crc32(payload);
    if found != crc {
        return Err(Error::ChecksumMismatch {
            expected: crc,
            found,
        });
    }
    Ok((version, payload))
}

/// The LEB128 varint that starts `bytes` (postcard's encoding of the model kind), if it fits in a u32.
fn leading_varint(bytes: &[u8]) -> Option<u32> {
    let mut value = 0u32;
    for (i, &b) in bytes.iter().take(5).enumerate() {
        value |= u32::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn check_dim(name: &'static str, value: u32, max: u32) -> Result<usize, Error> {
    if value == 0 || value > max {
        return Err(Error::BadHyperParameter { name, value });
    }
    Ok(value as usize)
}

impl<'a> Model<'a> {
    /// Loads a model from file bytes without copying: weights and strings stay borrowed from `bytes`.
    ///
    /// Validates the header, the checksum, every shape against the hyper-parameters, every scale and bias,
    /// the vocabulary and its sorted index, and the special token ids. Never panics, whatever the bytes.
    ///
    /// ```
    /// assert_eq!(quill_core::Model::from_bytes(b"nope").unwrap_err(),
    ///            quill_core::Error::Truncated { needed: 16, found: 4 });
    /// ```
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        let (version, payload) = payload(bytes)?;
        let kind = leading_varint(payload).ok_or(Error::Malformed)?;
        // Version 1 knows only the LSTM; version 2 adds the GRU.
        let newest_kind = if version == 1 {
            ModelKind::Lstm
        } else {
            ModelKind::Gru
        };
        if kind > newest_kind as u32 {
            return Err(Error::UnsupportedModelKind { found: kind });
        }
        let decoded = if version == 1 {
            postcard::take_from_bytes::<RawModelV1<'a>>(payload)
                .map(|(r, rest)| (r.upgrade(), rest))
        } else {
            postcard::take_from_bytes::<RawModel<'a>>(payload)
        };
        let (raw, rest) = decoded.map_err(|_| Error::Malformed)?;
        if !rest.is_empty() {
            return Err(Error::TrailingBytes { count: rest.len() });
        }
        let t = raw.tokenizer;
        // Version 1 knows only word and char levels; a BPE vocabulary has every text, so no unknown token.
        if t.level == Level::Bpe && (version == 1 || t.unknown != Unknown::Skip) {
            return Err(Error::BadVocabulary);
        }
        let h = raw.hyper;
        let v = check_dim("vocab", h.vocab, MAX_VOCAB)?;
        let e = check_dim("embed", h.embed, MAX_WIDTH)?;
        let hid = check_dim("hidden", h.hidden, MAX_WIDTH)?;
        let n_layers = check_dim("layers", h.layers, MAX_LAYERS as u32)?;
        if raw.layers.len() != n_layers {
            return Err(Error::BadHyperParameter {
                name: "layers",
                value: raw.layers.len() as u32,
            });
        }
        let rv = raw.vocab;
        let vocab = Vocab::new(rv.offsets, rv.text, rv.sorted, rv.merges, v, t.level)?;
        let embedding = Tensor::new(&raw.embedding, v, e, TensorName::Embedding)?;
        let mut layers = heapless::Vec::new();
        let g = raw.kind.gates();
        for (l, raw_layer) in raw.layers.iter().enumerate() {
            let li = l as u8;
            let input = if l == 0 { e } else { hid };
            let [n_ih, n_hh, n_b, n_bhn] = match raw.kind {
                ModelKind::Lstm => [
                    TensorName::LstmInput(li),
                    TensorName::LstmHidden(li),
                    TensorName::LstmBias(li),
                    TensorName::LstmBias(li),
                ],
                ModelKind::Gru => [
                    TensorName::GruInput(li),
                    TensorName::GruHidden(li),
                    TensorName::GruBias(li),
                    TensorName::GruHiddenBias(li),
                ],
            };
            let hn_len = if raw.kind == ModelKind::Gru { hid } else { 0 };
            let layer = Layer {
                w_ih: Tensor::new(&raw_layer.w_ih, g * hid, input, n_ih)?,
                w_hh: Tensor::new(&raw_layer.w_hh, g * hid, hid, n_hh)?,
                bias: F32s::new(raw_layer.bias, g * hid, n_b, false)?,
                bias_hn: F32s::new(raw_layer.bias_hn, hn_len, n_bhn, false)?,
            };
            layers.push(layer).map_err(|_| Error::Malformed)?;
        }
        let (dense, tied) = match &raw.dense {
            Some(d) => (Tensor::new(d, v, hid, TensorName::Dense)?, false),
            None if e == hid => (embedding, true),
            None => {
                return Err(Error::ShapeMismatch {
                    tensor: TensorName::Dense,
                    expected: v * hid,
                    found: 0,
                })
            }
        };
        let dense_bias = F32s::new(raw.dense_bias, v, TensorName::DenseBias, false)?;
        for id in [
            t.sentence_end,
            if let Unknown::Map(u) = t.unknown {
                Some(u)
            } else {
                None
            },
        ]
        .into_iter()
        .flatten()
        {
            if id >= h.vocab {
                return Err(Error::TokenOutOfRange { id, vocab: h.vocab });
            }
        }
        Ok(Self {
            kind: raw.kind,
            version,
            hyper: h,
            tokenizer: t,
            vocab,
            embedding,
            layers,
            dense,
            tied,
            dense_bias,
            meta: raw.meta,
            file_len: bytes.len(),
        })
    }

    /// The recurrent cell: LSTM or GRU.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The format version the file was written in (1 or 2).
    pub fn format_version(&self) -> u16 {
        self.version
    }

    /// Dimensions.
    pub fn hyper(&self) -> Hyper {
        self.hyper
    }

    /// Tokenizer settings.
    pub fn tokenizer(&self) -> TokenizerSpec {
        self.tokenizer
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab<'a> {
        &self.vocab
    }

    /// Trainer metadata (JSON by convention).
    pub fn meta(&self) -> &'a str {
        self.meta
    }

    /// Whether the dense layer reuses the embedding matrix.
    pub fn tied(&self) -> bool {
        self.tied
    }

    /// Whether every matrix is int8 or int4 (what the integer path needs).
    pub fn is_quantized(&self) -> bool {
        self.matrices().all(|t| t.dtype.is_integer())
    }

    /// The embedding, recurrent and (untied) dense matrices.
    pub fn matrices(&self) -> impl Iterator<Item = &Tensor<'a>> + '_ {
        let dense = if self.tied { None } else { Some(&self.dense) };
        core::iter::once(&self.embedding)
            .chain(self.layers.iter().flat_map(|l| [&l.w_ih, &l.w_hh]))
            .chain(dense)
    }

    /// Number of parameters (tied weights counted once).
    pub fn parameter_count(&self) -> usize {
        self.matrices().map(|t| t.rows * t.cols).sum::<usize>()
            + self
                .layers
                .iter()
                .map(|l| l.bias.len() + l.bias_hn.len())
                .sum::<usize>()
            + self.dense_bias.len()
    }

    /// Bytes of the model file.
    pub fn file_len(&self) -> usize {
        self.file_len
    }

    /// Bytes read from the model per generated token: every recurrent matrix, the dense matrix, one embedding row.
    pub fn bytes_per_token(&self) -> usize {
        let row = self.embedding.byte_len() / self.embedding.rows.max(1);
        self.layers
            .iter()
            .map(|l| l.w_ih.byte_len() + l.w_hh.byte_len())
            .sum::<usize>()
            + self.dense.byte_len()
            + row
    }
}
