//! Numeric kernels: activation quantization, int8 and f32 matrix-vector products, gate nonlinearities.
//!
//! The int8 products return exact i32 sums, so every kernel (scalar, AVX2, AVX-VNNI, Cortex-M DSP) gives the same
//! bits; the float work after them (scales, bias, nonlinearities in [`exp`], [`sigmoid`], [`tanh`]) is shared code
//! made of basic IEEE operations, so it is the same on every target too. The products come out in blocks of
//! [`BLOCK`] rows, so that work runs as vector loops. The scalar kernels are the reference the others are tested
//! against.

#[cfg(quill_arm_dsp)]
mod arm;
mod math;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use math::{exp, sigmoid, tanh};

use crate::format::{DType, INT4_BLOCK, INT4_GROUP};
use crate::int4::GROUP_BYTES;
use crate::tensor::{as_i8, F32s, Tensor};

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
    /// `q` as i16 in the order (0, 2, 1, 3, 4, 6, 5, 7, ...), so one `SXTB16` + `SMLAD` pairs with each word of
    /// weights; 8-aligned so the Cortex-M kernel loads both pairs of a group with one `LDRD`.
    pub(crate) perm: Align8<[i16; D]>,
    /// Number of values.
    pub(crate) len: usize,
    /// Dequantization scale.
    pub(crate) scale: f32,
}

/// A value on an 8-byte boundary (the Cortex-M kernel reads activation pairs with `LDRD`, which needs 4).
#[derive(Clone, Debug)]
#[repr(C, align(8))]
pub(crate) struct Align8<T>(pub(crate) T);

impl<const D: usize> Default for QVec<D> {
    fn default() -> Self {
        Self {
            q: [0; D],
            abs: [0; D],
            tail_q: [0; 32],
            tail_abs: [0; 32],
            perm: Align8([0; D]),
            len: 0,
            scale: 0.0,
        }
    }
}

/// Rounds to nearest (ties to even) and clamps to the symmetric int8 range (NaN to 0). Through i32, which a vector
/// loop converts in one instruction (a direct `as i8` does not vectorize).
#[inline(always)]
fn to_i8(v: f32) -> i8 {
    math::round_even(v).clamp(-127.0, 127.0) as i32 as i8
}

impl<const D: usize> QVec<D> {
    /// Quantizes `x` (at most `D` values): `scale = max|x| / 127`, `q = round(x · (1 / scale))`, ties to even.
    // Inlined on x86 into the `with_features` wrappers, so it compiles (and vectorizes) for the detected SIMD level.
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    pub fn quantize(&mut self, x: &[f32]) {
        // Sixteen running maxima, then their maximum: the same value as one running maximum (max is exact and
        // ignores NaN either way), but the lanes are independent, so the loop vectorizes.
        let mut lanes = [0.0f32; 16];
        for chunk in x.chunks(16) {
            for (l, &v) in lanes.iter_mut().zip(chunk) {
                *l = l.max(v.abs());
            }
        }
        let max = lanes.iter().fold(0.0f32, |m, &v| m.max(v));
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
    // Inlined on x86 into the `with_features` wrappers, so it compiles (and vectorizes) for the detected SIMD level.
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    pub fn load_i8(&mut self, row: &[i8], scale: f32) {
        for (q, &v) in self.q.iter_mut().zip(row) {
            *q = v;
        }
        self.finish(row.len().min(D), scale);
    }

    // Inlined on x86 into the `with_features` wrappers, so it compiles (and vectorizes) for the detected SIMD level.
    #[cfg_attr(target_arch = "x86_64", inline(always))]
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
        for (g, chunk) in self.perm.0.chunks_exact_mut(4).enumerate() {
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
    /// x86-64 AVX-VNNI: `vpsignb` + `vpdpbusd`, four rows at a time; int4 as AVX-512's kernel, 256 bits wide.
    AvxVnni,
    /// x86-64 AVX-512 VNNI: masked negate + `vpdpbusd` on 64 columns, eight rows at a time.
    Avx512Vnni,
    /// Cortex-M4/M7 DSP extension: `SXTB16` + `SMLAD`.
    ArmDsp,
}

/// Whether every listed x86 feature is available: detected at run time with `std`, else what the build enables
/// (`-C target-feature` / `-C target-cpu`).
#[cfg(target_arch = "x86_64")]
macro_rules! x86_has {
    ($($f:tt),+) => {{
        #[cfg(feature = "std")]
        let has = true $(&& std::is_x86_feature_detected!($f))+;
        #[cfg(not(feature = "std"))]
        let has = true $(&& cfg!(target_feature = $f))+;
        has
    }};
}

impl Kernel {
    /// The fastest kernel this CPU supports (on x86, detected at run time with `std`, else the build's target
    /// features; on Cortex-M4/M7, the DSP kernel).
    pub fn detect() -> Self {
        [Self::Avx512Vnni, Self::AvxVnni, Self::Avx2, Self::ArmDsp]
            .into_iter()
            .find(|k| k.is_supported())
            .unwrap_or(Self::Scalar)
    }

    /// Whether this kernel can run here (`Scalar` always can).
    pub fn is_supported(self) -> bool {
        match self {
            Self::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => x86_has!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Self::AvxVnni => x86_has!("avx2", "avxvnni"),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512Vnni => x86_has!("avx2", "avx512f", "avx512bw", "avx512vnni"),
            #[cfg(quill_arm_dsp)]
            Self::ArmDsp => true,
            #[allow(unreachable_patterns)] // reason: which arms exist depends on the target
            _ => false,
        }
    }
}

/// Runs `f` with the compiler free to use `kernel`'s instruction set in whatever it inlines (the block loops after
/// the products, `exp`, quantization), so they vectorize as wide as the products do. Only basic IEEE operations
/// are involved, never a fused multiply-add, so the results are the same bits as without.
///
/// `kernel` must be supported by this CPU ([`Kernel::is_supported`]); an unsupported one runs `f` plainly.
#[inline(always)]
pub fn with_features<R>(kernel: Kernel, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match kernel {
        // SAFETY: the CPU supports the features, checked just before.
        Kernel::Avx512Vnni if kernel.is_supported() => return unsafe { x86::with_avx512(f) },
        Kernel::Avx2 | Kernel::AvxVnni if kernel.is_supported() => {
            // SAFETY: the CPU supports AVX2, checked just before.
            return unsafe { x86::with_avx2(f) };
        }
        _ => {}
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = kernel;
    #[allow(unreachable_code)] // reason: the x86 arms return
    f()
}

/// Rows per block of [`matvec_i8`] and [`matvec_f32`] results: small enough for a stack buffer, large enough that
/// the work after the dot products runs as vector loops.
pub const BLOCK: usize = 64;

/// `f(first, sums)` for consecutive blocks of at most [`BLOCK`] rows of an int8 tensor, `sums[i]` being
/// `Σ_c w[first + i][c] * x[c]`, exact in i32. The hot spot of inference: V·H bytes of weights per token.
#[inline(always)]
pub fn matvec_i8<const D: usize>(
    kernel: Kernel,
    t: &Tensor<'_>,
    x: &QVec<D>,
    mut f: impl FnMut(usize, &[i32]),
) {
    if t.dtype != DType::I8RowScaled
        || t.cols == 0
        || t.data.len() < t.rows * t.cols
        || x.len != t.cols
    {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    let simd = match kernel {
        Kernel::Avx2 | Kernel::AvxVnni => t.cols >= 32 && kernel.is_supported(),
        Kernel::Avx512Vnni => kernel.is_supported(),
        _ => false,
    };
    let mut sums = [0i32; BLOCK];
    let blocks = t
        .data
        .get(..t.rows * t.cols)
        .unwrap_or(&[])
        .chunks(BLOCK * t.cols);
    for (b, block) in blocks.enumerate() {
        let out = sums.get_mut(..block.len() / t.cols).unwrap_or(&mut []);
        match kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU supports the kernel and cols suits it (checked above); `block` holds
            // out.len()*cols bytes and x holds cols values (checked above), which is all the kernel reads.
            Kernel::Avx2 | Kernel::AvxVnni | Kernel::Avx512Vnni if simd => unsafe {
                x86::matvec_block(kernel, block.as_ptr(), t.cols, x, out)
            },
            #[cfg(quill_arm_dsp)]
            Kernel::ArmDsp => arm::matvec_block(block, t.cols, x, out),
            _ => {
                for (s, row) in out.iter_mut().zip(block.chunks_exact(t.cols)) {
                    *s = dot_i8(as_i8(row), x.values());
                }
            }
        }
        f(b * BLOCK, out);
    }
}

/// Exact int4 × int8 dot products of one block's group (512 bytes, `FORMAT.md`) with its 32 activations: the sums
/// `Σ q·x` of the block's 32 rows. Byte `64k + 4·lane + j` holds column `4k + j` of row `lane` in its low nibble and
/// of row `16 + lane` in its high nibble, each `q + 8`. The scalar kernel, which every SIMD kernel is tested
/// against.
///
/// ```
/// // Lane 2: column 0 of row 2 is 3 (low nibble 11), of row 18 it is -2 (high nibble 6); every other weight 0.
/// let mut group = [0x88u8; 512];
/// group[4 * 2] = 0x6B;
/// let mut x = [1i8; 32];
/// x[0] = 10;
/// let sums = quill_core::kernels::dot_i4_group(&group, &x);
/// assert_eq!((sums[2], sums[18], sums[0]), (3 * 10, -2 * 10, 0));
/// ```
#[inline(always)]
pub fn dot_i4_group(group: &[u8; GROUP_BYTES], x: &[i8; INT4_GROUP]) -> [i32; INT4_BLOCK] {
    // Σ u·x with u = q + 8, then the offset 8·Σx off every row.
    let mut u = [0i32; INT4_BLOCK];
    let (lo, hi) = u.split_at_mut(INT4_BLOCK / 2);
    for (chunk, xk) in group.as_chunks::<64>().0.iter().zip(x.as_chunks::<4>().0) {
        let words = chunk.as_chunks::<4>().0;
        for ((word, lo), hi) in words.iter().zip(lo.iter_mut()).zip(hi.iter_mut()) {
            let dot = |n: [u8; 4]| -> i32 {
                n.iter()
                    .zip(xk)
                    .map(|(&u, &v)| i32::from(u) * i32::from(v))
                    .sum()
            };
            *lo += dot(word.map(|b| b & 0x0F));
            *hi += dot(word.map(|b| b >> 4));
        }
    }
    let offset = 8 * x.iter().map(|&v| i32::from(v)).sum::<i32>();
    u.map(|s| s - offset)
}

/// Row `r` of an int4 product by the definition, weight by weight: `Σ_c q[r][c] · m[r][c / 32] · x[c]`. What the
/// tests hold every kernel to.
#[cfg(test)]
pub(crate) fn dot_row_i4<const D: usize>(t: &Tensor<'_>, r: usize, x: &QVec<D>) -> i32 {
    let s = t.int4();
    (0..s.groups)
        .map(|g| {
            let cols = INT4_GROUP * g..(INT4_GROUP * (g + 1)).min(t.cols);
            let dot: i32 = cols
                .map(|c| i32::from(s.q(t.data, r, c)) * i32::from(x.q.get(c).copied().unwrap_or(0)))
                .sum();
            i32::from(s.m(t.data, r, g)) * dot
        })
        .sum()
}

/// The sums of 32-row block `b` of an int4 tensor into `out` (32 values; padding rows give 0), group by group with
/// [`dot_i4_group`]: the scalar kernel.
pub(crate) fn block_i4<const D: usize>(t: &Tensor<'_>, b: usize, x: &QVec<D>, out: &mut [i32]) {
    let s = t.int4();
    out.fill(0);
    for g in 0..s.groups {
        let (at, m) = (s.group_at(b, g), s.mult_at(INT4_BLOCK * b, g));
        let group = t
            .data
            .get(at..at + GROUP_BYTES)
            .and_then(|g| g.try_into().ok());
        let (Some(group), Some(mults)) = (group, t.data.get(m..m + INT4_BLOCK)) else {
            debug_assert!(false, "unreachable: the tensor's length was checked");
            return;
        };
        // x is zero past its length; a capacity D short of the last group reads as zeros too.
        let mut xs = [0i8; INT4_GROUP];
        for (v, &q) in xs.iter_mut().zip(x.q.iter().skip(INT4_GROUP * g)) {
            *v = q;
        }
        let sums = dot_i4_group(group, &xs);
        for ((o, &sum), &m) in out.iter_mut().zip(&sums).zip(mults) {
            *o += i32::from(m) * sum;
        }
    }
}

/// Most int4 groups in a row the SIMD kernels take (2,048 columns; wider rows run the scalar kernel): their
/// offsets stay a small buffer on the stack.
#[cfg_attr(not(any(target_arch = "x86_64", quill_arm_dsp)), allow(dead_code))] // reason: only SIMD kernels
pub(crate) const MAX_GROUPS: usize = 64;

/// What the SIMD int4 kernels subtract for the `+ 8` of the nibbles (`Σ (u − 8)·x = Σ u·x − 8·Σx`), per group of 32
/// activations, computed once per product.
#[cfg(any(target_arch = "x86_64", quill_arm_dsp))]
pub(crate) struct Int4Offsets {
    /// `8 · Σx` over the group (the Cortex-M kernel subtracts it from each group's sum).
    #[cfg(quill_arm_dsp)]
    pub(crate) all: [i32; MAX_GROUPS],
    /// `-8 · Σx`: where the VNNI kernels' (AVX-512 and AVX-VNNI) low-nibble sums start.
    #[cfg(target_arch = "x86_64")]
    pub(crate) lo: [i32; MAX_GROUPS],
    /// `-136 · Σx` (`-(8 + 16·8)·Σx`): where its whole-byte sums start.
    #[cfg(target_arch = "x86_64")]
    pub(crate) whole: [i32; MAX_GROUPS],
    /// `-8 · Σx` over the group's columns `4k, 4k + 1` (low i16) and `4k + 2, 4k + 3` (high i16): where the
    /// AVX2 kernel's 16-bit pair sums start.
    #[cfg(target_arch = "x86_64")]
    pub(crate) pairs: [i32; MAX_GROUPS],
}

#[cfg(any(target_arch = "x86_64", quill_arm_dsp))]
impl Int4Offsets {
    /// The offsets of `x`'s first `groups` groups (x is zero past its length). Each target keeps only the arrays
    /// its kernels read (on a board the stack is the budget).
    pub(crate) fn new<const D: usize>(x: &QVec<D>, groups: usize) -> Self {
        let mut off = Self {
            #[cfg(quill_arm_dsp)]
            all: [0; MAX_GROUPS],
            #[cfg(target_arch = "x86_64")]
            lo: [0; MAX_GROUPS],
            #[cfg(target_arch = "x86_64")]
            whole: [0; MAX_GROUPS],
            #[cfg(target_arch = "x86_64")]
            pairs: [0; MAX_GROUPS],
        };
        for (g, xs) in
            x.q.chunks_exact(INT4_GROUP)
                .take(groups.min(MAX_GROUPS))
                .enumerate()
        {
            let sum = |j: usize| -> i32 {
                let cols = xs.chunks_exact(4).map(|c| c.get(j).copied().unwrap_or(0));
                cols.map(i32::from).sum()
            };
            let (even, odd) = (sum(0) + sum(1), sum(2) + sum(3));
            let all = 8 * (even + odd);
            #[cfg(quill_arm_dsp)]
            if let Some(a) = off.all.get_mut(g) {
                *a = all;
            }
            #[cfg(target_arch = "x86_64")]
            if let (Some(lo), Some(whole), Some(pair)) = (
                off.lo.get_mut(g),
                off.whole.get_mut(g),
                off.pairs.get_mut(g),
            ) {
                (*lo, *whole) = (-all, -17 * all);
                // |8·Σ| ≤ 8·16·127 < 2¹⁵: each half is an exact i16.
                *pair = i32::from((-8 * even) as u16) | (i32::from((-8 * odd) as u16) << 16);
            }
        }
        off
    }
}

/// `f(first, sums)` for consecutive blocks of at most [`BLOCK`] rows of an int4 tensor, `sums[i]` being
/// `Σ_c q[first + i][c] · m[first + i][c / 32] · x[c]`, exact in i32: the int4 counterpart of [`matvec_i8`] at half
/// the bytes, scaled back with the same per-row scales ([`dequantize`]). The kernels run whole 32-row blocks.
// Inlined on x86 so the products compile for the detected SIMD level (`with_features`); elsewhere one copy per
// closure keeps the firmware small.
#[cfg_attr(target_arch = "x86_64", inline(always))]
pub fn matvec_i4<const D: usize>(
    kernel: Kernel,
    t: &Tensor<'_>,
    x: &QVec<D>,
    mut f: impl FnMut(usize, &[i32]),
) {
    const { assert!(BLOCK.is_multiple_of(INT4_BLOCK)) };
    let s = t.int4();
    if t.dtype != DType::I4GroupScaled
        || t.cols == 0
        || s.len() != Some(t.data.len())
        || x.len != t.cols
    {
        return;
    }
    // The SIMD kernels read x in whole groups: they need the capacity D to cover the last one.
    #[cfg(any(target_arch = "x86_64", quill_arm_dsp))]
    let fits = INT4_GROUP * s.groups <= D && s.groups <= MAX_GROUPS;
    #[cfg(target_arch = "x86_64")]
    let simd = fits
        && matches!(kernel, Kernel::Avx2 | Kernel::AvxVnni | Kernel::Avx512Vnni)
        && kernel.is_supported();
    #[cfg(quill_arm_dsp)]
    let simd = fits && kernel == Kernel::ArmDsp;
    #[cfg(any(target_arch = "x86_64", quill_arm_dsp))]
    let offsets = Int4Offsets::new(x, if simd { s.groups } else { 0 });
    // On x86 a kernel takes runs of 4 blocks (AVX-512 all 4 per pass, AVX-VNNI 2, AVX2 1; one activation load
    // serves each pass's chunks); `f` still sees BLOCK rows. A board keeps one BLOCK (its stack).
    const RUN: usize = if cfg!(target_arch = "x86_64") {
        2 * BLOCK
    } else {
        BLOCK
    };
    let mut sums = [0i32; RUN];
    for first in (0..t.rows).step_by(RUN) {
        let n = RUN.min(t.rows - first);
        let out = sums
            .get_mut(..n.div_ceil(INT4_BLOCK) * INT4_BLOCK)
            .unwrap_or(&mut []);
        let block = first / INT4_BLOCK;
        match kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU supports the kernel (checked above); the tensor holds every block's multipliers and
            // nibbles (its length was checked above); x holds 32·groups ≤ D readable values.
            Kernel::Avx2 | Kernel::AvxVnni | Kernel::Avx512Vnni if simd => unsafe {
                x86::matvec4_blocks(kernel, t, block, x, &offsets, out)
            },
            #[cfg(quill_arm_dsp)]
            Kernel::ArmDsp if simd => arm::matvec4_blocks(t, block, x, &offsets, out),
            _ => {
                for (i, o) in out.chunks_exact_mut(INT4_BLOCK).enumerate() {
                    block_i4(t, block + i, x, o);
                }
            }
        }
        for (i, part) in sums.get(..n).unwrap_or(&[]).chunks(BLOCK).enumerate() {
            f(first + i * BLOCK, part);
        }
    }
}

/// [`matvec_i8`] or [`matvec_i4`], by the tensor's dtype: the integer product every layer uses.
#[inline(always)]
pub fn matvec_int<const D: usize>(
    kernel: Kernel,
    t: &Tensor<'_>,
    x: &QVec<D>,
    f: impl FnMut(usize, &[i32]),
) {
    match t.dtype {
        DType::I4GroupScaled => matvec_i4(kernel, t, x, f),
        _ => matvec_i8(kernel, t, x, f),
    }
}

/// `out[i] = sums[i] · (scales[first + i] · sx) + bias[first + i]` (no bias when `bias` is `None`): the int8
/// sums of rows `first..` back to real values. One vector loop; the same rounding on every target.
#[inline(always)]
pub fn dequantize(
    sums: &[i32],
    scales: &F32s<'_>,
    first: usize,
    sx: f32,
    bias: Option<&F32s<'_>>,
    out: &mut [f32],
) {
    let rows = out.iter_mut().zip(sums).zip(scales.iter_from(first));
    match bias {
        Some(b) => {
            for (((o, &s), w), b) in rows.zip(b.iter_from(first)) {
                *o = s as f32 * (w * sx) + b;
            }
        }
        None => {
            for ((o, &s), w) in rows {
                *o = s as f32 * (w * sx);
            }
        }
    }
}

/// `f(first, values)` for blocks of at most [`BLOCK`] rows, `values[i] = Σ_c w[first + i][c] * x[c]` in f32 with
/// dequantized weights (`q * scale`): the float reference path, row by row in column order.
#[inline]
pub fn matvec_f32(t: &Tensor<'_>, x: &[f32], mut f: impl FnMut(usize, &[f32])) {
    let mut buf = [0f32; BLOCK];
    for first in (0..t.rows).step_by(BLOCK) {
        let n = BLOCK.min(t.rows - first);
        let out = buf.get_mut(..n).unwrap_or(&mut []);
        for (i, o) in out.iter_mut().enumerate() {
            *o = row_f32(t, first + i, x);
        }
        f(first, out);
    }
}

fn row_f32(t: &Tensor<'_>, r: usize, x: &[f32]) -> f32 {
    match t.dtype {
        DType::I8RowScaled => {
            let s = t.scales.get(r);
            let row = t.data.get(r * t.cols..(r + 1) * t.cols).unwrap_or(&[]);
            row.iter()
                .zip(x)
                .map(|(&q, &v)| f32::from(q as i8) * s * v)
                .sum()
        }
        DType::F32 => {
            let row = t
                .data
                .get(4 * r * t.cols..4 * (r + 1) * t.cols)
                .unwrap_or(&[]);
            let dot = row.chunks_exact(4).zip(x);
            dot.map(|(w, &v)| crate::tensor::le_f32(w) * v).sum()
        }
        DType::I4GroupScaled => (0..t.cols).zip(x).map(|(c, &v)| t.get_f32(r, c) * v).sum(),
    }
}

#[cfg(test)]
mod tests;
