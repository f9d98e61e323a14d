//! Validated, borrowed views of the tensors inside a model file.

use crate::error::{Error, TensorName};
use crate::format::{DType, RawTensor, INT4_GROUP, INT4_MAX_MULTIPLIER};

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
    /// `rows*cols` int8 (I8RowScaled); or (I4GroupScaled) `rows * groups` group multipliers (row-major, each
    /// 0..=63) followed by `rows * 16 * groups` bytes of nibbles (per group of 32 columns, byte k holds column k
    /// in its low nibble and column k + 16 in its high nibble, each `q + 8`); or `4*rows*cols` bytes of f32 LE.
    pub(crate) data: &'a [u8],
    /// One scale per row (I8RowScaled, I4GroupScaled), empty for F32.
    pub(crate) scales: F32s<'a>,
}

/// Groups of [`INT4_GROUP`] columns in a row of `cols` (the last one zero-padded).
#[inline(always)]
pub(crate) const fn groups(cols: usize) -> usize {
    cols.div_ceil(INT4_GROUP)
}

/// The int4 value of column `k` (0..32) of a 16-byte group: the nibble minus 8 (offset binary).
#[inline(always)]
pub(crate) fn nibble(group: &[u8], k: usize) -> i8 {
    let b = group.get(k % 16).copied().unwrap_or(0x88);
    let n = if k < 16 { b & 0x0F } else { b >> 4 };
    n as i8 - 8
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
            DType::I4GroupScaled => {
                let g = rows.checked_mul(groups(cols)).ok_or(Error::Malformed)?;
                let bytes = g.checked_mul(17).ok_or(Error::Malformed)?;
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
        if raw.dtype == DType::I8RowScaled {
            if let Some(index) = raw.data.iter().position(|&b| b == 0x80) {
                // -128 is outside the symmetric range the SIMD kernels rely on (no i16 pair overflow).
                return Err(Error::WeightOutOfRange {
                    tensor: name,
                    index,
                });
            }
        }
        if raw.dtype == DType::I4GroupScaled {
            check_nibbles(raw.data, rows, cols, name)?;
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

    /// Scale groups per row (int4 tensors).
    #[inline(always)]
    pub(crate) fn groups(&self) -> usize {
        groups(self.cols)
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

    /// The group multipliers of row `r` of an int4 tensor (`groups` bytes).
    #[inline(always)]
    pub(crate) fn multipliers(&self, r: usize) -> &'a [u8] {
        let g = self.groups();
        self.data.get(r * g..(r + 1) * g).unwrap_or(&[])
    }

    /// The nibbles of row `r` of an int4 tensor: `groups` runs of 16 bytes (empty for other dtypes).
    #[inline(always)]
    pub(crate) fn nibbles(&self, r: usize) -> &'a [u8] {
        let n = 16 * self.groups();
        let at = self.rows * self.groups() + r * n;
        self.data.get(at..at + n).unwrap_or(&[])
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
                let (g, k) = (c / INT4_GROUP, c % INT4_GROUP);
                let group = self.nibbles(r).get(16 * g..16 * g + 16).unwrap_or(&[]);
                let m = self.multipliers(r).get(g).copied().unwrap_or(0);
                f32::from(i16::from(nibble(group, k)) * i16::from(m)) * self.scales.get(r)
            }
        }
    }
}

/// An int4 tensor's bytes are canonical: multipliers at most [`INT4_MAX_MULTIPLIER`] ([`Error::Malformed`]),
/// no nibble 0 (`q = -8`, [`Error::WeightOutOfRange`] with the row-major index of such a weight), and the
/// padding past `cols` in each row's last group `q = 0` ([`Error::Malformed`]).
fn check_nibbles(data: &[u8], rows: usize, cols: usize, name: TensorName) -> Result<(), Error> {
    let g = groups(cols);
    let (mults, nibbles) = data.split_at((rows * g).min(data.len()));
    if mults.iter().any(|&m| m > INT4_MAX_MULTIPLIER) {
        return Err(Error::Malformed);
    }
    let row_len = 16 * g;
    let low_bad = |b: u8| b & 0x0F == 0;
    if let Some(pos) = nibbles.iter().position(|&b| low_bad(b) || b & 0xF0 == 0) {
        let (r, at) = (pos / row_len.max(1), pos % row_len.max(1));
        let k = at % 16
            + if nibbles.get(pos).is_some_and(|&b| low_bad(b)) {
                0
            } else {
                16
            };
        return Err(Error::WeightOutOfRange {
            tensor: name,
            index: r * cols + (at / 16) * INT4_GROUP + k,
        });
    }
    let used = cols % INT4_GROUP;
    if used != 0 {
        for row in nibbles.chunks_exact(row_len).take(rows) {
            let last = row.get(row_len - 16..).unwrap_or(&[]);
            if (used..INT4_GROUP).any(|k| nibble(last, k) != 0) {
                return Err(Error::Malformed);
            }
        }
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
