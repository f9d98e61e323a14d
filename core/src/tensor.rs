//! Validated, borrowed views of the tensors inside a model file.

use crate::error::{Error, TensorName};
use crate::format::{DType, RawTensor};

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

/// A row-major matrix, int8 with per-row scales or plain f32.
#[derive(Clone, Copy, Debug)]
pub struct Tensor<'a> {
    /// Number of rows.
    pub(crate) rows: usize,
    /// Number of columns (the input width of a matrix-vector product).
    pub(crate) cols: usize,
    /// Storage kind.
    pub(crate) dtype: DType,
    /// `rows*cols` int8 (I8RowScaled) or `4*rows*cols` bytes of f32 LE (F32).
    pub(crate) data: &'a [u8],
    /// One scale per row (I8RowScaled), empty for F32.
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
        let (r, c) = (raw.rows as usize, raw.cols as usize);
        if r != rows || c != cols {
            return Err(Error::ShapeMismatch {
                tensor: name,
                expected: rows * cols,
                found: r.saturating_mul(c),
            });
        }
        let elems = rows.checked_mul(cols).ok_or(Error::Malformed)?;
        let (bytes, scales) = match raw.dtype {
            DType::I8RowScaled => (elems, F32s::new(raw.scales, rows, name, true)?),
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
        if raw.dtype == DType::I8RowScaled {
            if let Some(index) = raw.data.iter().position(|&b| b == 0x80) {
                // -128 is outside the symmetric range the SIMD kernels rely on (no i16 pair overflow).
                return Err(Error::WeightOutOfRange {
                    tensor: name,
                    index,
                });
            }
        }
        Ok(Self {
            rows,
            cols,
            dtype: raw.dtype,
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

    /// The int8 values of row `r` (empty for f32 tensors or out-of-range rows).
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
            DType::I8RowScaled => self.scales.get(r),
            DType::F32 => 1.0,
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
        }
    }
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
