//! Writing model files (feature `alloc`): the trainer and the tests produce files through this one path.
#![allow(clippy::indexing_slicing)] // reason: host-side writer; every index comes from iterating the same vectors

use alloc::string::String;
use alloc::vec::Vec;

use crate::crc::crc32;
use crate::error::Error;
use crate::format::{
    DType, Hyper, Level, ModelKind, RawLayer, RawModel, RawTensor, RawVocab, TokenizerSpec,
    FORMAT_VERSION, HEADER_LEN, INT4_GROUP, MAGIC,
};
use crate::int4::Int4Shape;
use crate::model::Model;

/// An owned matrix ready to be written.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedTensor {
    /// Storage kind.
    pub dtype: DType,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows*cols` int8 as bytes, or `4*rows*cols` bytes of f32 LE.
    pub data: Vec<u8>,
    /// One scale per row (int8), empty for f32.
    pub scales: Vec<f32>,
}

/// Symmetric per-row int8 quantization of one row: `scale = max|w| / 127`, `q = round(w / scale)`.
///
/// ```
/// let (q, s) = quill_core::quantize_row(&[0.5, -1.0, 0.25]);
/// assert_eq!(q, vec![64, -127, 32]);
/// assert_eq!(s, 1.0 / 127.0);
/// ```
pub fn quantize_row(row: &[f32]) -> (Vec<i8>, f32) {
    let max = row.iter().fold(0.0f32, |m, &w| m.max(libm::fabsf(w)));
    if max == 0.0 || !max.is_finite() {
        return (alloc::vec![0; row.len()], 0.0);
    }
    let scale = max / 127.0;
    let q = row
        .iter()
        .map(|&w| libm::roundf(w / scale).clamp(-127.0, 127.0) as i8)
        .collect();
    (q, scale)
}

/// How [`OwnedTensor::quantize_i4`] picks each group's multiplier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int4Scale {
    /// The multiplier nearest `max|w_group| / 7 / row_scale`: the group's largest weight is represented
    /// (to the multiplier's rounding), the others round to its grid.
    Max,
    /// Among the multipliers from half to all of that, the one with the least squared rounding error over the
    /// group (clipping the largest weights a little buys a finer grid for the rest). The writer's default.
    Search,
}

/// One group's int4 values for step `step` (`w ≈ q · step`, `q` in `[-7, 7]`, rounded half away from zero)
/// and their squared error.
fn round_group(w: &[f32], step: f32) -> (Vec<i8>, f64) {
    let q: Vec<i8> = w
        .iter()
        .map(|&v| {
            if step > 0.0 {
                libm::roundf(v / step).clamp(-7.0, 7.0) as i8
            } else {
                0
            }
        })
        .collect();
    let err = w
        .iter()
        .zip(&q)
        .map(|(&v, &q)| f64::from(v - f32::from(q) * step).powi(2))
        .sum();
    (q, err)
}

impl OwnedTensor {
    /// Quantizes a row-major f32 matrix to int4 as `FORMAT.md` lays it out: per row a scale
    /// `max_group(max|w_group| / 7) / 63`; per group of 32 columns a multiplier `m` in 0..=63 (picked by `how`);
    /// `q = round(w / (m · scale))` in `[-7, 7]`. `data` holds the multipliers, then the nibbles `q + 8`, in blocks
    /// of 32 rows (the last padded with zero rows) and groups of 32 columns (the last padded with `q = 0`).
    pub fn quantize_i4(values: &[f32], rows: usize, cols: usize, how: Int4Scale) -> Self {
        let shape = Int4Shape::new(rows, cols);
        let mut data = shape.zeros();
        let mut scales = Vec::with_capacity(rows);
        let top = f32::from(crate::format::INT4_MAX_MULTIPLIER);
        for (r, row) in values.chunks(cols.max(1)).take(rows).enumerate() {
            let ideal: Vec<f32> = row
                .chunks(INT4_GROUP)
                .map(|g| g.iter().fold(0.0f32, |m, &v| m.max(libm::fabsf(v))) / 7.0)
                .collect();
            let largest = ideal.iter().fold(0.0f32, |m, &v| m.max(v));
            let scale = if largest.is_finite() {
                largest / top
            } else {
                0.0
            };
            scales.push(scale);
            for (g, (w, &ideal)) in row.chunks(INT4_GROUP).zip(&ideal).enumerate() {
                let want = if scale > 0.0 { ideal / scale } else { 0.0 };
                let hi = libm::roundf(want).clamp(0.0, top) as u8;
                let lo = match how {
                    Int4Scale::Max => hi,
                    Int4Scale::Search => (libm::roundf(want / 2.0) as u8).clamp(1, hi.max(1)),
                };
                let (mut best_m, mut best) = (hi, round_group(w, f32::from(hi) * scale));
                for m in lo..hi {
                    let cand = round_group(w, f32::from(m) * scale);
                    if cand.1 < best.1 {
                        (best_m, best) = (m, cand);
                    }
                }
                data[shape.mult_at(r, g)] = best_m;
                for (k, &q) in best.0.iter().enumerate() {
                    shape.set_q(&mut data, r, INT4_GROUP * g + k, q);
                }
            }
        }
        Self {
            dtype: DType::I4GroupScaled,
            rows,
            cols,
            data,
            scales,
        }
    }

    /// Quantizes a row-major f32 matrix to int8 with one scale per row.
    pub fn quantize(values: &[f32], rows: usize, cols: usize) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        let mut scales = Vec::with_capacity(rows);
        for row in values.chunks(cols.max(1)).take(rows) {
            let (q, s) = quantize_row(row);
            data.extend(q.iter().map(|&v| v as u8));
            scales.push(s);
        }
        Self {
            dtype: DType::I8RowScaled,
            rows,
            cols,
            data,
            scales,
        }
    }

    /// Stores a row-major f32 matrix unquantized (reference exports).
    pub fn float(values: &[f32], rows: usize, cols: usize) -> Self {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            dtype: DType::F32,
            rows,
            cols,
            data,
            scales: Vec::new(),
        }
    }

    /// Quantizes or not, by `dtype` (int4 with [`Int4Scale::Search`]).
    pub fn new(dtype: DType, values: &[f32], rows: usize, cols: usize) -> Self {
        match dtype {
            DType::I8RowScaled => Self::quantize(values, rows, cols),
            DType::I4GroupScaled => Self::quantize_i4(values, rows, cols, Int4Scale::Search),
            DType::F32 => Self::float(values, rows, cols),
        }
    }

    /// The matrix as f32 (dequantized for int8).
    pub fn to_f32(&self) -> Vec<f32> {
        match self.dtype {
            DType::F32 => self
                .data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            DType::I8RowScaled => self
                .data
                .chunks(self.cols.max(1))
                .zip(&self.scales)
                .flat_map(|(row, &s)| row.iter().map(move |&q| f32::from(q as i8) * s))
                .collect(),
            DType::I4GroupScaled => {
                let s = Int4Shape::new(self.rows, self.cols);
                let (rows, cols) = (0..self.rows, 0..self.cols);
                let w = |r: usize, c: usize| {
                    let (q, m) = (s.q(&self.data, r, c), s.m(&self.data, r, c / INT4_GROUP));
                    f32::from(i16::from(q) * i16::from(m)) * self.scales[r]
                };
                rows.flat_map(|r| cols.clone().map(move |c| (r, c)))
                    .map(|(r, c)| w(r, c))
                    .collect()
            }
        }
    }

    fn raw<'s>(&'s self, scales: &'s [u8]) -> RawTensor<'s> {
        RawTensor {
            dtype: self.dtype.code(),
            rows: self.rows as u32,
            cols: self.cols as u32,
            data: &self.data,
            scales,
        }
    }
}

/// One recurrent layer, owned. G = 4 (LSTM, gate order i, f, g, o) or 3 (GRU, gate order r, z, n).
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedLayer {
    /// Shape (G·H, in).
    pub w_ih: OwnedTensor,
    /// Shape (G·H, H).
    pub w_hh: OwnedTensor,
    /// G·H values: `b_ih + b_hh`, except the GRU's n rows, which hold `b_in` alone.
    pub bias: Vec<f32>,
    /// GRU: H values `b_hn`; LSTM: empty.
    pub bias_hn: Vec<f32>,
}

/// Everything a model file holds, owned; [`ModelBuilder::to_bytes`] writes it and checks it loads.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelBuilder {
    /// The recurrent cell.
    pub kind: ModelKind,
    /// Dimensions.
    pub hyper: Hyper,
    /// Tokenizer settings.
    pub tokenizer: TokenizerSpec,
    /// Token strings by id (unique, non-empty): word and char levels. Empty for `Level::Bpe`, whose tokens the
    /// builder spells from `merges`.
    pub vocab: Vec<String>,
    /// `Level::Bpe`: merge `r` joins the pair into token `256 + r` (the first 256 tokens are the bytes). Empty
    /// for word and char levels.
    pub merges: Vec<(u32, u32)>,
    /// Shape (V, E).
    pub embedding: OwnedTensor,
    /// `hyper.layers` layers.
    pub layers: Vec<OwnedLayer>,
    /// Shape (V, H); `None` to tie it to the embedding (E = H).
    pub dense: Option<OwnedTensor>,
    /// V values.
    pub dense_bias: Vec<f32>,
    /// Trainer metadata (JSON by convention).
    pub meta: String,
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn le_u32(v: impl IntoIterator<Item = u32>) -> Vec<u8> {
    v.into_iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl ModelBuilder {
    /// The bytes of every token by id: `vocab` for word and char levels; for BPE the 256 bytes, then each
    /// merge's two parts joined (a merge of a token not made yet is `BadVocabulary`).
    pub fn token_bytes(&self) -> Result<Vec<Vec<u8>>, Error> {
        if self.tokenizer.level != Level::Bpe {
            if !self.merges.is_empty() {
                return Err(Error::BadVocabulary);
            }
            return Ok(self.vocab.iter().map(|t| t.as_bytes().to_vec()).collect());
        }
        if !self.vocab.is_empty() {
            return Err(Error::BadVocabulary);
        }
        let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| alloc::vec![b]).collect();
        for &(a, b) in &self.merges {
            let (Some(a), Some(b)) = (tokens.get(a as usize), tokens.get(b as usize)) else {
                return Err(Error::BadVocabulary);
            };
            let joined = [a.as_slice(), b.as_slice()].concat();
            tokens.push(joined);
        }
        Ok(tokens)
    }

    /// Serializes the model (header, postcard payload in format version [`FORMAT_VERSION`], CRC-32) and checks the result with [`Model::from_bytes`],
    /// so a file that this returns always loads.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let tokens = self.token_bytes()?;
        let mut text = Vec::new();
        let mut offsets = alloc::vec![0u32];
        for t in &tokens {
            text.extend_from_slice(t);
            offsets.push(u32::try_from(text.len()).map_err(|_| Error::BadVocabulary)?);
        }
        let mut sorted: Vec<u32> = (0..tokens.len() as u32).collect();
        sorted.sort_by(|&a, &b| tokens[a as usize].cmp(&tokens[b as usize]));
        let (offsets, sorted) = (le_u32(offsets), le_u32(sorted));
        let merges = crate::text::bpe::table_bytes(&self.merges);
        let scales: Vec<Vec<u8>> = core::iter::once(&self.embedding)
            .chain(self.layers.iter().flat_map(|l| [&l.w_ih, &l.w_hh]))
            .chain(self.dense.as_ref())
            .map(|t| le_f32(&t.scales))
            .collect();
        let biases: Vec<Vec<u8>> = self.layers.iter().map(|l| le_f32(&l.bias)).collect();
        let biases_hn: Vec<Vec<u8>> = self.layers.iter().map(|l| le_f32(&l.bias_hn)).collect();
        let mut layers = heapless::Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let layer = RawLayer {
                w_ih: l.w_ih.raw(&scales[1 + 2 * i]),
                w_hh: l.w_hh.raw(&scales[2 + 2 * i]),
                bias: &biases[i],
                bias_hn: &biases_hn[i],
            };
            layers.push(layer).map_err(|_| Error::BadHyperParameter {
                name: "layers",
                value: self.layers.len() as u32,
            })?;
        }
        let dense_bias = le_f32(&self.dense_bias);
        let raw = RawModel {
            kind: self.kind,
            hyper: self.hyper,
            tokenizer: self.tokenizer,
            vocab: RawVocab {
                offsets: &offsets,
                text: &text,
                sorted: &sorted,
                merges: &merges,
            },
            embedding: self.embedding.raw(&scales[0]),
            layers,
            dense: self
                .dense
                .as_ref()
                .map(|d| d.raw(&scales[scales.len() - 1])),
            dense_bias: &dense_bias,
            meta: &self.meta,
        };
        let payload = postcard::to_allocvec(&raw).map_err(|_| Error::Malformed)?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(
            &u32::try_from(payload.len())
                .map_err(|_| Error::Malformed)?
                .to_le_bytes(),
        );
        out.extend_from_slice(&crc32(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        Model::from_bytes(&out)?;
        Ok(out)
    }
}
