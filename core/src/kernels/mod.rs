//! Numeric kernels: activation quantization, int8 and f32 matrix-vector products, gate nonlinearities.
//!
//! The int8 products return exact i32 sums, so every kernel (scalar, AVX2, AVX-VNNI, Cortex-M DSP) gives the same
//! bits; the float work after them (scales, bias, nonlinearities) is shared scalar code using `libm`, so it is the
//! same on every target too. The scalar kernels are the reference the others are tested against.

#[cfg(quill_arm_dsp)]
mod arm;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::format::DType;
use crate::tensor::{as_i8, Tensor};

/// An activation vector quantized to int8 with one scale: `x[i] ≈ q[i] * scale`, laid out for every kernel.
#[derive(Clone, Debug)]
pub struct QVec<const D: usize> {
    /// `len` values in `[-127, 127]`, zero after.
    pub(crate) q: [i8; D],
    /// `|q|`, for the x86 unsigned×signed multiply (`vpmaddubsw`, `vpdpbusd`).
    pub(crate) abs: [u8; D],
    /// The last 32 columns, zeroed where they overlap the last full 32-column chunk (x86 tail trick).
    pub(crate) tail_q: [i8; 32],
    /// `|tail_q|`.
    pub(crate) tail_abs: [u8; 32],
    /// `q` as i16 in the order (0, 2, 1, 3, 4, 6, 5, 7, ...), so one `SXTB16` + `SMLAD` pairs with each word.
    pub(crate) perm: [i16; D],
    /// Number of values.
    pub(crate) len: usize,
    /// Dequantization scale.
    pub(crate) scale: f32,
}

impl<const D: usize> Default for QVec<D> {
    fn default() -> Self {
        Self {
            q: [0; D],
            abs: [0; D],
            tail_q: [0; 32],
            tail_abs: [0; 32],
            perm: [0; D],
            len: 0,
            scale: 0.0,
        }
    }
}

/// Rounds half away from zero and clamps to the symmetric int8 range.
#[inline(always)]
fn to_i8(v: f32) -> i8 {
    libm::roundf(v).clamp(-127.0, 127.0) as i8
}

impl<const D: usize> QVec<D> {
    /// Quantizes `x` (at most `D` values): `scale = max|x| / 127`, `q = round(x / scale)`.
    pub fn quantize(&mut self, x: &[f32]) {
        let max = x.iter().fold(0.0f32, |m, &v| m.max(libm::fabsf(v)));
        let scale = if max > 0.0 && max.is_finite() {
            max / 127.0
        } else {
            0.0
        };
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        for (q, &v) in self.q.iter_mut().zip(x) {
            *q = to_i8(v * inv);
        }
        self.finish(x.len().min(D), scale);
    }

    /// Copies an int8 row that is already quantized (an embedding row) with its scale.
    pub fn load_i8(&mut self, row: &[i8], scale: f32) {
        for (q, &v) in self.q.iter_mut().zip(row) {
            *q = v;
        }
        self.finish(row.len().min(D), scale);
    }

    fn finish(&mut self, len: usize, scale: f32) {
        for q in self.q.iter_mut().skip(len) {
            *q = 0;
        }
        for (a, &q) in self.abs.iter_mut().zip(&self.q) {
            *a = q.unsigned_abs();
        }
        self.tail_q = [0; 32];
        if len >= 32 {
            let full = len - len % 32;
            for (i, t) in self.tail_q.iter_mut().enumerate() {
                let col = len - 32 + i;
                *t = if col >= full {
                    self.q.get(col).copied().unwrap_or(0)
                } else {
                    0
                };
            }
        }
        for (a, &q) in self.tail_abs.iter_mut().zip(&self.tail_q) {
            *a = q.unsigned_abs();
        }
        for (g, chunk) in self.perm.chunks_exact_mut(4).enumerate() {
            let q = |k: usize| i16::from(self.q.get(4 * g + k).copied().unwrap_or(0));
            chunk.copy_from_slice(&[q(0), q(2), q(1), q(3)]);
        }
        self.len = len;
        self.scale = scale;
    }

    /// The quantized values.
    pub fn values(&self) -> &[i8] {
        self.q.get(..self.len).unwrap_or(&[])
    }

    /// The scale.
    pub fn scale(&self) -> f32 {
        self.scale
    }
}

/// Exact int8 dot product, the reference for every SIMD kernel.
///
/// ```
/// assert_eq!(quill_core::kernels::dot_i8(&[1, -2, 127], &[3, 4, -127]), 3 - 8 - 16129);
/// ```
#[inline(always)]
pub fn dot_i8(w: &[i8], x: &[i8]) -> i32 {
    w.iter()
        .zip(x)
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

/// Which integer kernel runs the int8 products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kernel {
    /// Portable scalar code (the reference).
    Scalar,
    /// x86-64 AVX2: `vpsignb` + `vpmaddubsw` + `vpmaddwd`, four rows at a time.
    Avx2,
    /// x86-64 AVX-VNNI: `vpsignb` + `vpdpbusd`, four rows at a time.
    AvxVnni,
    /// Cortex-M4/M7 DSP extension: `SXTB16` + `SMLAD`.
    ArmDsp,
}

impl Kernel {
    /// The fastest kernel this CPU supports (runtime detection needs `std` on x86; without it, compile-time features).
    pub fn detect() -> Self {
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            if std::is_x86_feature_detected!("avxvnni") && std::is_x86_feature_detected!("avx2") {
                return Self::AvxVnni;
            }
            if std::is_x86_feature_detected!("avx2") {
                return Self::Avx2;
            }
        }
        #[cfg(all(target_arch = "x86_64", not(feature = "std"), target_feature = "avx2"))]
        return Self::Avx2;
        #[cfg(quill_arm_dsp)]
        return Self::ArmDsp;
        #[allow(unreachable_code)] // reason: reached on targets without the cfg'd returns above
        Self::Scalar
    }

    /// Whether this kernel can run here (`Scalar` always can).
    pub fn is_supported(self) -> bool {
        match self {
            Self::Scalar => true,
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            Self::Avx2 => std::is_x86_feature_detected!("avx2"),
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            Self::AvxVnni => {
                std::is_x86_feature_detected!("avxvnni") && std::is_x86_feature_detected!("avx2")
            }
            #[cfg(quill_arm_dsp)]
            Self::ArmDsp => true,
            #[allow(unreachable_patterns)] // reason: which arms exist depends on the target
            _ => false,
        }
    }
}

/// `f(row, Σ_c w[row][c] * x[c])` for every row of an int8 tensor, exact in i32. The hot spot of inference.
#[inline(always)]
pub fn matvec_i8<const D: usize>(
    kernel: Kernel,
    t: &Tensor<'_>,
    x: &QVec<D>,
    mut f: impl FnMut(usize, i32),
) {
    if t.dtype != DType::I8RowScaled || t.data.len() < t.rows * t.cols || x.len != t.cols {
        return;
    }
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 | Kernel::AvxVnni if t.cols >= 32 && kernel.is_supported() => {
            // Blocks of rows into a small buffer, so the caller's per-row work stays out of the SIMD loop.
            let mut sums = [0i32; 64];
            for (b, block) in t
                .data
                .chunks(64 * t.cols)
                .take(t.rows.div_ceil(64))
                .enumerate()
            {
                let n = block.len() / t.cols;
                let out = sums.get_mut(..n).unwrap_or(&mut []);
                // SAFETY: the CPU supports the feature (checked above); `block` holds n*cols bytes and x holds
                // cols values (checked above), which is all the kernel reads.
                unsafe {
                    x86::matvec_block(kernel == Kernel::AvxVnni, block.as_ptr(), t.cols, x, out)
                };
                for (i, &acc) in out.iter().enumerate() {
                    f(64 * b + i, acc);
                }
            }
        }
        #[cfg(quill_arm_dsp)]
        Kernel::ArmDsp => arm::matvec(t.data, t.rows, t.cols, x, &mut f),
        _ => {
            let xq = x.values();
            for (r, row) in t.data.chunks_exact(t.cols).take(t.rows).enumerate() {
                f(r, dot_i8(as_i8(row), xq));
            }
        }
    }
}

/// `f(row, Σ_c w[row][c] * x[c])` in f32 with dequantized weights (`q * scale`): the float reference path.
#[inline]
pub fn matvec_f32(t: &Tensor<'_>, x: &[f32], mut f: impl FnMut(usize, f32)) {
    match t.dtype {
        DType::I8RowScaled => {
            for (r, row) in t.data.chunks_exact(t.cols).take(t.rows).enumerate() {
                let s = t.scales.get(r);
                f(
                    r,
                    row.iter()
                        .zip(x)
                        .map(|(&q, &v)| f32::from(q as i8) * s * v)
                        .sum(),
                );
            }
        }
        DType::F32 => {
            for (r, row) in t.data.chunks_exact(4 * t.cols).take(t.rows).enumerate() {
                let dot = row.chunks_exact(4).zip(x);
                f(r, dot.map(|(w, &v)| crate::tensor::le_f32(w) * v).sum());
            }
        }
    }
}

/// Logistic sigmoid through `libm::expf` (bit-identical on every target).
///
/// ```
/// assert_eq!(quill_core::kernels::sigmoid(0.0), 0.5);
/// ```
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// Hyperbolic tangent through `libm::tanhf`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    libm::tanhf(x)
}

#[cfg(test)]
mod tests;
