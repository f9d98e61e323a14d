//! Validated, borrowed views of the tensors inside a model file.

use crate::error::{Error, TensorName};
use crate::format::{DType, RawTensor, INT4_BLOCK, INT4_GROUP, INT4_MAX_MULTIPLIER};
use crate::int4::Int4Shape;

/// A borrowed run of little-endian f32 values (unaligned in the file, so read one at a time).
#[derive(Clone, Copy, Debug)]
pub struct F32s<'a>(&'a [u8]);

impl<'a> F32s<'a> {
    /// Views `bytes` as `len` f32 values; checks the length and that every value is finite (and `>= 0` if `scales`).
    pub(crate) fn new(
        bytes: &'a [u8],
        len: usize,
        tensor: TensorName,
        scales: bool,
    ) -> Result<Self, Error> {
        let needed = len.checked_mul(4).ok_or(Error::Malformed)?;
        if bytes.len() != needed {
            return Err(Error::ShapeMismatch {
                tensor,
                expected: needed,
                found: bytes.len(),
            });
        }
        let v = Self(bytes);
        if (0..len).any(|i| !v.get(i).is_finite() || (scales && v.get(i) < 0.0)) {
            return Err(Error::NonFiniteParameter { tensor });
        }
        Ok(v)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Value `i`, or 0.0 past the end (indices are checked once at load; this keeps the hot path panic-free).
    #[inline(always)]
    pub fn get(&self, i: usize) -> f32 {
        self.0.get(4 * i..4 * i + 4).map_or(0.0, le_f32)
    }

    /// Values `start..` in order (nothing past the end): the block loops read scales and biases through this,
    /// which compiles to plain vector loads on little-endian targets.
    #[inline(always)]
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = f32> + 'a {
        let bytes: &'a [u8] = self.0.get(4 * start..).unwrap_or(&[]);
        bytes
            .as_chunks::<4>()
            .0
            .iter()
            .map(|b| f32::from_le_bytes(*b))
    }
}

/// A row-major matrix: int8 with per-row scales, int4 with per-row scales and per-group multipliers, or plain f32.
#[derive(Clone, Copy, Debug)]
pub struct Tensor<'a> {
    /// Number of rows.
    pub(crate) rows: usize,
    /// Number of columns (the input width of a matrix-vector product).
    pub(crate) cols: usize,
    /// Storage kind.
    pub(crate) dtype: DType,
    /// `rows*cols` int8 (I8RowScaled); or (I4GroupScaled) the multipliers (0..=63), then the nibbles `q + 8`, in
    /// blocks of 32 rows and groups of 32 columns as [`Int4Shape`] places them; or `4*rows*cols` bytes of f32 LE.
    pub(crate) data: &'a [u8],
    /// One scale per row (I8RowScaled, I4GroupScaled), empty for F32.
    pub(crate) scales: F32s<'a>,
}

impl<'a> Tensor<'a> {
    /// Checks a stored tensor against the expected shape.
    pub(crate) fn new(
        raw: &RawTensor<'a>,
        rows: usize,
        cols: usize,
        name: TensorName,
    ) -> Result<Self, Error> {
        let dtype = DType::from_code(raw.dtype).ok_or(Error::UnsupportedDType {
            tensor: name,
            found: raw.dtype,
        })?;
        let (r, c) = (raw.rows as usize, raw.cols as usize);
        if r != rows || c != cols {
            return Err(Error::ShapeMismatch {
                tensor: name,
                expected: rows * cols,
                found: r.saturating_mul(c),
            });
        }
        let elems = rows.checked_mul(cols).ok_or(Error::Malformed)?;
        let (bytes, scales) = match dtype {
            DType::I8RowScaled => (elems, F32s::new(raw.scales, rows, name, true)?),
            DType::I4GroupScaled => {
                let bytes = Int4Shape::new(rows, cols).len().ok_or(Error::Malformed)?;
                (bytes, F32s::new(raw.scales, rows, name, true)?)
            }
            DType::F32 => {
                let v = F32s::new(raw.data, elems, name, false)?;
                if !raw.scales.is_empty() {
                    return Err(Error::ShapeMismatch {
                        tensor: name,
                        expected: 0,
                        found: raw.scales.len(),
                    });
                }
                (v.0.len(), F32s(&[]))
            }
        };
        if raw.data.len() != bytes {
            return Err(Error::ShapeMismatch {
                tensor: name,
                expected: bytes,
                found: raw.data.len(),
            });
        }
        if dtype == DType::I8RowScaled {
            if let Some(index) = raw.data.iter().position(|&b| b == 0x80) {
                // -128 is outside the symmetric range the SIMD kernels rely on (no i16 pair overflow).
                return Err(Error::WeightOutOfRange {
                    tensor: name,
                    index,
                });
            }
        }
        if dtype == DType::I4GroupScaled {
            check_nibbles(raw.data, Int4Shape::new(rows, cols), name)?;
        }
        Ok(Self {
            rows,
            cols,
            dtype,
            data: raw.data,
            scales,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Storage kind.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Bytes of weights and scales.
    pub fn byte_len(&self) -> usize {
        self.data.len() + 4 * self.scales.len()
    }

    /// Where an int4 tensor's weights and multipliers are (meaningful for int4 tensors only).
    #[inline(always)]
    pub(crate) fn int4(&self) -> Int4Shape {
        Int4Shape::new(self.rows, self.cols)
    }

    /// The int8 values of row `r` (empty for other dtypes or out-of-range rows).
    #[inline(always)]
    pub fn row_i8(&self, r: usize) -> &'a [i8] {
        if self.dtype != DType::I8RowScaled {
            return &[];
        }
        let bytes = self
            .data
            .get(r * self.cols..(r + 1) * self.cols)
            .unwrap_or(&[]);
        as_i8(bytes)
    }

    /// The scale of row `r` (1.0 for f32 tensors).
    #[inline(always)]
    pub fn scale(&self, r: usize) -> f32 {
        match self.dtype {
            DType::I8RowScaled | DType::I4GroupScaled => self.scales.get(r),
            DType::F32 => 1.0,
        }
    }

    /// Row `r` as f32 into `out[..cols]` (fewer if `out` is shorter), each value exactly [`get_f32`](Self::get_f32)'s:
    /// the embedding lookup of an int4 or f32 table.
    pub fn row_f32(&self, r: usize, out: &mut [f32]) {
        let n = self.cols.min(out.len());
        let out = out.get_mut(..n).unwrap_or(&mut []);
        if self.dtype == DType::I4GroupScaled {
            let (s, scale) = (self.int4(), self.scales.get(r));
            for (g, cols) in out.chunks_mut(INT4_GROUP).enumerate() {
                for (o, &qm) in cols.iter_mut().zip(&s.group_qm(self.data, r, g)) {
                    *o = f32::from(qm) * scale;
                }
            }
            return;
        }
        for (c, o) in out.iter_mut().enumerate() {
            *o = self.get_f32(r, c);
        }
    }

    /// Element `(r, c)` as f32 (dequantized for int8): the float reference path reads weights through this.
    #[inline(always)]
    pub fn get_f32(&self, r: usize, c: usize) -> f32 {
        let i = r * self.cols + c;
        match self.dtype {
            DType::I8RowScaled => {
                f32::from(self.data.get(i).map_or(0, |&b| b as i8)) * self.scales.get(r)
            }
            DType::F32 => F32s(self.data).get(i),
            DType::I4GroupScaled => {
                let s = self.int4();
                let (q, m) = (s.q(self.data, r, c), s.m(self.data, r, c / INT4_GROUP));
                f32::from(i16::from(q) * i16::from(m)) * self.scales.get(r)
            }
        }
    }
}

/// An int4 tensor's bytes are canonical: multipliers at most [`INT4_MAX_MULTIPLIER`] and 0 for the padding rows
/// ([`Error::Malformed`]); no nibble 0 (`q = -8`: [`Error::WeightOutOfRange`] with the row-major index of the
/// first such weight); the padding rows and columns `q = 0` ([`Error::Malformed`]).
fn check_nibbles(data: &[u8], s: Int4Shape, name: TensorName) -> Result<(), Error> {
    let (mults, nibbles) = data.split_at(s.mult_len().min(data.len()));
    let used_rows = s.rows - (s.blocks.max(1) - 1) * INT4_BLOCK;
    let padding_row = |i: usize, b: usize| b + 1 == s.blocks && i >= used_rows;
    for (j, group) in mults.chunks_exact(INT4_BLOCK).enumerate() {
        let b = j / s.groups.max(1);
        for (i, &m) in group.iter().enumerate() {
            if m > INT4_MAX_MULTIPLIER || (m != 0 && padding_row(i, b)) {
                return Err(Error::Malformed);
            }
        }
    }
    let q = |r: usize, c: usize| s.q(data, r, c);
    let (rows, cols) = (s.blocks * INT4_BLOCK, s.groups * INT4_GROUP);
    if nibbles.iter().any(|&b| b & 0x0F == 0 || b & 0xF0 == 0) {
        // Name the first bad weight (nibble 0, q = -8) in row-major order (a bad padding nibble is caught below).
        for r in 0..s.rows {
            if let Some(c) = (0..s.cols).find(|&c| q(r, c) == -8) {
                return Err(Error::WeightOutOfRange {
                    tensor: name,
                    index: r * s.cols + c,
                });
            }
        }
    }
    let padding_cols = (0..s.rows).flat_map(|r| (s.cols..cols).map(move |c| (r, c)));
    let padding_rows = (s.rows..rows).flat_map(|r| (0..cols).map(move |c| (r, c)));
    if padding_cols.chain(padding_rows).any(|(r, c)| q(r, c) != 0) {
        return Err(Error::Malformed);
    }
    Ok(())
}

/// Reinterprets bytes as int8 values.
#[inline(always)]
pub(crate) fn as_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: u8 and i8 have the same size and alignment and every bit pattern is valid for both.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}

/// An f32 from four little-endian bytes (0.0 if `b` is not four bytes long).
#[inline(always)]
pub(crate) fn le_f32(b: &[u8]) -> f32 {
    match b {
        &[a, b, c, d] => f32::from_le_bytes([a, b, c, d]),
        _ => 0.0,
    }
}
