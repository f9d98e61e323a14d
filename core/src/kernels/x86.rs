//! AVX2 and AVX-VNNI int8 matrix-vector products, four rows per pass over the shared activation.
//!
//! `x` is signed, the weights are signed; the unsigned×signed instructions see `|x|` and `sign(x) * w`
//! (`vpsignb`), whose products are the same. Weights are in `[-127, 127]`, so `vpmaddubsw` pairs never saturate.
//! The last `cols % 32` columns are done by re-reading the row's final 32 bytes against `QVec::tail_*`, which is
//! zero where that window overlaps the columns already summed: no scalar tail, no read past the row.

#![allow(clippy::indexing_slicing)] // reason: only raw-pointer loads below, bounds argued at each unsafe block

use core::arch::x86_64::*;

use super::{dot_row_i4, Kernel, QVec};
use crate::tensor::Tensor;

/// How far ahead of the rows being summed the kernels ask for weights, in bytes. The hardware prefetcher alone
/// leaves the dense layer ~12% slower (measured on the seed-sized model: 49 → 43 µs/token with 2–4 KiB).
const PREFETCH_AHEAD: usize = 4096;

/// Asks for the cache lines `PREFETCH_AHEAD` bytes past `[p, p + len)` (a hint: it never faults, even past the
/// end of the weights).
#[inline(always)]
unsafe fn prefetch(p: *const u8, len: usize) {
    let mut off = 0;
    while off < len {
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(PREFETCH_AHEAD + off).cast());
        off += 64;
    }
}

/// Sums of four accumulators, one per lane: `[Σacc0, Σacc1, Σacc2, Σacc3]`.
#[inline(always)]
unsafe fn hsum4(a: [__m256i; 4]) -> __m128i {
    let s = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
    _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s))
}

macro_rules! kernel {
    ($name:ident, $feat:literal, $mac:ident) => {
        /// `out[i] = Σ_c row(i)[c] * x[c]` for the `out.len()` rows starting at `data`.
        ///
        /// # Safety
        /// The CPU must support the feature; `data` must hold `out.len()*cols` bytes, `cols >= 32`,
        /// `x.len == cols`.
        #[target_feature(enable = $feat)]
        unsafe fn $name<const D: usize>(
            data: *const u8,
            cols: usize,
            x: &QVec<D>,
            out: &mut [i32],
        ) {
            let rows = out.len();
            let full = cols / 32;
            let tail = cols % 32 != 0;
            let (xa, xs) = (x.abs.as_ptr(), x.q.as_ptr());
            let (ta, ts) = (
                _mm256_loadu_si256(x.tail_abs.as_ptr().cast()),
                _mm256_loadu_si256(x.tail_q.as_ptr().cast()),
            );
            let o = out.as_mut_ptr();
            let mut r = 0;
            while r + 4 <= rows {
                let p = [
                    data.add(r * cols),
                    data.add((r + 1) * cols),
                    data.add((r + 2) * cols),
                    data.add((r + 3) * cols),
                ];
                prefetch(p[0], 4 * cols);
                let mut acc = [_mm256_setzero_si256(); 4];
                for j in 0..full {
                    // j*32+32 <= cols <= D: in bounds of the row and of x.
                    let a = _mm256_loadu_si256(xa.add(32 * j).cast());
                    let s = _mm256_loadu_si256(xs.add(32 * j).cast());
                    for k in 0..4 {
                        let w = _mm256_loadu_si256(p[k].add(32 * j).cast());
                        acc[k] = $mac(acc[k], a, _mm256_sign_epi8(w, s));
                    }
                }
                if tail {
                    // The row's last 32 bytes; tail_* is zero where they overlap the full chunks.
                    for k in 0..4 {
                        let w = _mm256_loadu_si256(p[k].add(cols - 32).cast());
                        acc[k] = $mac(acc[k], ta, _mm256_sign_epi8(w, ts));
                    }
                }
                // r + 4 <= rows = out.len()
                _mm_storeu_si128(o.add(r).cast(), hsum4(acc));
                r += 4;
            }
            while r < rows {
                let p = data.add(r * cols);
                let mut acc = [_mm256_setzero_si256(); 4];
                for j in 0..full {
                    let a = _mm256_loadu_si256(xa.add(32 * j).cast());
                    let s = _mm256_loadu_si256(xs.add(32 * j).cast());
                    acc[0] = $mac(
                        acc[0],
                        a,
                        _mm256_sign_epi8(_mm256_loadu_si256(p.add(32 * j).cast()), s),
                    );
                }
                if tail {
                    acc[0] = $mac(
                        acc[0],
                        ta,
                        _mm256_sign_epi8(_mm256_loadu_si256(p.add(cols - 32).cast()), ts),
                    );
                }
                *o.add(r) = _mm_cvtsi128_si32(hsum4(acc));
                r += 1;
            }
        }
    };
}

#[inline(always)]
unsafe fn mac_avx2(acc: __m256i, a: __m256i, w: __m256i) -> __m256i {
    _mm256_add_epi32(
        acc,
        _mm256_madd_epi16(_mm256_maddubs_epi16(a, w), _mm256_set1_epi16(1)),
    )
}

#[inline(always)]
unsafe fn mac_vnni(acc: __m256i, a: __m256i, w: __m256i) -> __m256i {
    _mm256_dpbusd_avx_epi32(acc, a, w)
}

kernel!(matvec_avx2, "avx2", mac_avx2);
kernel!(matvec_vnni, "avx2,avxvnni", mac_vnni);

/// Sums of eight accumulators, one per lane: `[Σacc0, ..., Σacc7]`.
#[inline(always)]
unsafe fn hsum8_512(a: [__m512i; 8]) -> __m256i {
    // Pairs, then quads: each 128-bit lane of q0 holds partial sums of rows 0..4, of q1 rows 4..8.
    let pair = |x: __m512i, y: __m512i| {
        _mm512_add_epi32(_mm512_unpacklo_epi32(x, y), _mm512_unpackhi_epi32(x, y))
    };
    let quad = |x: __m512i, y: __m512i| {
        _mm512_add_epi32(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y))
    };
    let q0 = quad(pair(a[0], a[1]), pair(a[2], a[3]));
    let q1 = quad(pair(a[4], a[5]), pair(a[6], a[7]));
    // Lanes (q0.0 + q0.1, q0.2 + q0.3, q1.0 + q1.1, q1.2 + q1.3), then fold the two halves of each row set.
    let u = _mm512_add_epi32(
        _mm512_shuffle_i32x4::<0b10_00_10_00>(q0, q1),
        _mm512_shuffle_i32x4::<0b11_01_11_01>(q0, q1),
    );
    let v = _mm512_add_epi32(
        _mm512_shuffle_i32x4::<0b00_00_10_00>(u, u),
        _mm512_shuffle_i32x4::<0b00_00_11_01>(u, u),
    );
    _mm512_castsi512_si256(v)
}

/// `acc + |x| · (sign(x) · w)` for 64 columns: `neg` holds the sign bits of x.
#[inline(always)]
unsafe fn mac512(acc: __m512i, xabs: __m512i, neg: __mmask64, w: __m512i) -> __m512i {
    _mm512_dpbusd_epi32(
        acc,
        xabs,
        _mm512_mask_sub_epi8(w, neg, _mm512_setzero_si512(), w),
    )
}

/// `out[i] = Σ_c row(i)[c] * x[c]` with AVX-512 VNNI, eight rows per pass: 64 columns per step, the sign of `x`
/// moved onto the weights by a masked `0 - w`, and the last `cols % 64` columns read with a masked load, so
/// nothing past a row is read.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VNNI; `data` must hold `out.len()*cols` bytes, `x.len == cols`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn matvec_avx512<const D: usize>(
    data: *const u8,
    cols: usize,
    x: &QVec<D>,
    out: &mut [i32],
) {
    let rows = out.len();
    let full = cols / 64;
    let rem = cols % 64;
    let tail: __mmask64 = if rem == 0 { 0 } else { (1u64 << rem) - 1 };
    let (xa, xs) = (x.abs.as_ptr(), x.q.as_ptr());
    // The tail chunk of x, masked: columns past `cols` read as zero.
    let ta = _mm512_maskz_loadu_epi8(tail, xa.add(64 * full).cast());
    let tn = _mm512_movepi8_mask(_mm512_maskz_loadu_epi8(tail, xs.add(64 * full).cast()));
    let o = out.as_mut_ptr();
    let mut r = 0;
    while r + 8 <= rows {
        let p = data.add(r * cols);
        prefetch(p, 8 * cols);
        let mut acc = [_mm512_setzero_si512(); 8];
        for j in 0..full {
            // 64*j + 64 <= cols <= D: in bounds of every row and of x.
            let a = _mm512_loadu_si512(xa.add(64 * j).cast());
            let n = _mm512_movepi8_mask(_mm512_loadu_si512(xs.add(64 * j).cast()));
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = mac512(
                    *acc,
                    a,
                    n,
                    _mm512_loadu_si512(p.add(k * cols + 64 * j).cast()),
                );
            }
        }
        if rem != 0 {
            for (k, acc) in acc.iter_mut().enumerate() {
                let w = _mm512_maskz_loadu_epi8(tail, p.add(k * cols + 64 * full).cast());
                *acc = mac512(*acc, ta, tn, w);
            }
        }
        // r + 8 <= rows = out.len()
        _mm256_storeu_si256(o.add(r).cast(), hsum8_512(acc));
        r += 8;
    }
    while r < rows {
        let p = data.add(r * cols);
        let mut acc = _mm512_setzero_si512();
        for j in 0..full {
            let a = _mm512_loadu_si512(xa.add(64 * j).cast());
            let n = _mm512_movepi8_mask(_mm512_loadu_si512(xs.add(64 * j).cast()));
            acc = mac512(acc, a, n, _mm512_loadu_si512(p.add(64 * j).cast()));
        }
        if rem != 0 {
            acc = mac512(
                acc,
                ta,
                tn,
                _mm512_maskz_loadu_epi8(tail, p.add(64 * full).cast()),
            );
        }
        *o.add(r) = _mm512_reduce_add_epi32(acc);
        r += 1;
    }
}

/// `ctrl` for `vpshufb` that spreads multiplier byte `2j` of each 128-bit lane's copy over lane 0 and byte
/// `2j + 1` over lane 1, zero-extended to 16 bits (`0x80` zeroes the high byte of each word).
#[inline(always)]
unsafe fn pair_ctrl(j: usize) -> __m256i {
    let (a, b) = ((2 * j) as i16, (2 * j + 1) as i16);
    _mm256_setr_m128i(_mm_set1_epi16(a | -0x8000), _mm_set1_epi16(b | -0x8000))
}

/// Where one four-row pass of an int4 product reads: the rows' nibbles, the multipliers, x.
struct Pass4 {
    /// Nibbles of rows r..r+4.
    p: [*const u8; 4],
    /// Multipliers of rows r..r+4 (`groups` bytes each; a 16-byte read from any of them stays in the data).
    m: [*const u8; 4],
    /// x (32·groups readable values).
    xs: *const i8,
}

/// Groups `2j` and `2j + 1` of a pass, one per 128-bit lane: the nibbles `u = q + 8` are unpacked with an `and`
/// and a shift, `vpmaddubsw` multiplies them (unsigned) with x (signed) into 16-bit pairs (≤ 2·15·127), the pairs of
/// x times 8 are subtracted (the offset: Σ(u − 8)·x = Σu·x − 8·Σx, still < 2¹⁵), and `vpmaddwd` with the group's
/// multiplier (spread by `vpshufb` from the row's multiplier bytes) adds them up in 32 bits.
#[inline(always)]
unsafe fn pair_step(s: &Pass4, j: usize, acc: &mut [__m256i; 4]) {
    let (mask, eights) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(8));
    // Columns 64j..64j+64 of x, regrouped so lane 0 meets group 2j and lane 1 group 2j+1: low nibbles pair with
    // columns 0..16 of each group, high nibbles with 16..32.
    let (a0, a1) = (
        _mm256_loadu_si256(s.xs.add(64 * j).cast()),
        _mm256_loadu_si256(s.xs.add(64 * j + 32).cast()),
    );
    let (xlo, xhi) = (
        _mm256_permute2x128_si256::<0x20>(a0, a1),
        _mm256_permute2x128_si256::<0x31>(a0, a1),
    );
    let offset = _mm256_add_epi16(
        _mm256_maddubs_epi16(eights, xlo),
        _mm256_maddubs_epi16(eights, xhi),
    );
    let window = 16 * (j / 8);
    let ctrl = pair_ctrl(j % 8);
    for (k, acc) in acc.iter_mut().enumerate() {
        let mb = _mm256_broadcastsi128_si256(_mm_loadu_si128(s.m[k].add(window).cast()));
        let w = _mm256_loadu_si256(s.p[k].add(32 * j).cast());
        let lo = _mm256_and_si256(w, mask);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(w), mask);
        let pairs = _mm256_sub_epi16(
            _mm256_add_epi16(_mm256_maddubs_epi16(lo, xlo), _mm256_maddubs_epi16(hi, xhi)),
            offset,
        );
        let m = _mm256_shuffle_epi8(mb, ctrl);
        *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, m));
    }
}

/// Group `g` alone: low nibbles in lane 0 against columns 0..16, high in lane 1 against 16..32.
#[inline(always)]
unsafe fn single_step(s: &Pass4, g: usize, acc: &mut [__m256i; 4]) {
    let (mask, eights) = (_mm_set1_epi8(0x0F), _mm256_set1_epi8(8));
    let xg = _mm256_loadu_si256(s.xs.add(32 * g).cast());
    let offset = _mm256_maddubs_epi16(eights, xg);
    for (k, acc) in acc.iter_mut().enumerate() {
        let w = _mm_loadu_si128(s.p[k].add(16 * g).cast());
        let lo = _mm_and_si128(w, mask);
        let hi = _mm_and_si128(_mm_srli_epi16::<4>(w), mask);
        let pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(_mm256_setr_m128i(lo, hi), xg), offset);
        let m = _mm256_set1_epi16(i16::from(*s.m[k].add(g)));
        *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, m));
    }
}

/// Groups `4c..4c + 4` with AVX-512, one per 128-bit lane: as [`pair_step`] at twice the width, the multipliers
/// spread by `vpshufb` within each lane and added with `vpdpwssd`.
#[inline(always)]
unsafe fn quad_step(s: &Pass4, c: usize, acc: &mut [__m512i; 4]) {
    let (mask, eights) = (_mm512_set1_epi8(0x0F), _mm512_set1_epi8(8));
    // Columns 128c..128c+128: lane L of xlo holds columns 0..16 of group 4c+L, of xhi columns 16..32.
    let (a0, a1) = (
        _mm512_loadu_si512(s.xs.add(128 * c).cast()),
        _mm512_loadu_si512(s.xs.add(128 * c + 64).cast()),
    );
    let xlo = _mm512_shuffle_i32x4::<0b10_00_10_00>(a0, a1);
    let xhi = _mm512_shuffle_i32x4::<0b11_01_11_01>(a0, a1);
    let offset = _mm512_add_epi16(
        _mm512_maddubs_epi16(eights, xlo),
        _mm512_maddubs_epi16(eights, xhi),
    );
    // Lane L takes multiplier byte (4c + L) % 16 of the window, zero-extended to 16 bits.
    let b = 4 * (c % 4) as u32;
    // Two words (byte index, 0x80) per 32-bit lane.
    let lane = |l: u32| ((0x8000 | (b + l)) * 0x0001_0001) as i32;
    let (l0, l1, l2, l3) = (lane(0), lane(1), lane(2), lane(3));
    let ctrl = _mm512_setr_epi32(
        l0, l0, l0, l0, l1, l1, l1, l1, l2, l2, l2, l2, l3, l3, l3, l3,
    );
    let window = 16 * (c / 4);
    for (k, acc) in acc.iter_mut().enumerate() {
        let mb = _mm512_broadcast_i32x4(_mm_loadu_si128(s.m[k].add(window).cast()));
        let w = _mm512_loadu_si512(s.p[k].add(64 * c).cast());
        let lo = _mm512_and_si512(w, mask);
        let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(w), mask);
        let pairs = _mm512_sub_epi16(
            _mm512_add_epi16(_mm512_maddubs_epi16(lo, xlo), _mm512_maddubs_epi16(hi, xhi)),
            offset,
        );
        *acc = _mm512_dpwssd_epi32(*acc, pairs, _mm512_shuffle_epi8(mb, ctrl));
    }
}

/// The pass set-up shared by the int4 kernels: row and multiplier pointers of rows `first + r..first + r + 4`.
#[inline(always)]
unsafe fn pass4(t: &Tensor<'_>, first: usize, r: usize, x: *const i8) -> Pass4 {
    let groups = t.groups();
    let stride = 16 * groups;
    let base = t.data.as_ptr();
    // Multipliers first (rows·groups bytes), then the nibbles: a 16-byte read of any row's multipliers stays
    // inside the data, since at least 16 bytes of nibbles follow the last row's.
    let m = |k: usize| base.add((first + r + k) * groups);
    let p = |k: usize| base.add(t.rows * groups + (first + r + k) * stride);
    Pass4 {
        p: [p(0), p(1), p(2), p(3)],
        m: [m(0), m(1), m(2), m(3)],
        xs: x,
    }
}

/// The int4 row loop both kernels share: `pass` sums four rows into one accumulator each (added up across
/// lanes by [`hsum4`]), the last `out.len() % 4` rows run the scalar reference.
///
/// # Safety
/// As for the kernels; `pass` only reads what [`pass4`] points at.
#[inline(always)]
unsafe fn rows4<const D: usize>(
    t: &Tensor<'_>,
    first: usize,
    x: &QVec<D>,
    out: &mut [i32],
    pass: impl Fn(&Pass4) -> [__m256i; 4],
) {
    let rows = out.len();
    let o = out.as_mut_ptr();
    let mut r = 0;
    while r + 4 <= rows {
        let s = pass4(t, first, r, x.q.as_ptr());
        prefetch(s.p[0], 4 * 16 * t.groups());
        // r + 4 <= rows = out.len()
        _mm_storeu_si128(o.add(r).cast(), hsum4(pass(&s)));
        r += 4;
    }
    while r < rows {
        *o.add(r) = dot_row_i4(t, first + r, x);
        r += 1;
    }
}

/// `out[i]` = int4 row `first + i` of `t` · `x` (see `matvec_i4`), four rows per pass with AVX2: [`pair_step`]
/// over the groups, [`single_step`] for an odd last one, one horizontal sum per row at the end, as for int8: the
/// integer sums, and so the text, are the scalar reference's.
///
/// # Safety
/// The CPU must support AVX2; rows `first..first + out.len()` of `t` are int4 with their multipliers and nibbles;
/// `x` holds `32·groups` readable values (zero past `x.len`).
#[target_feature(enable = "avx2")]
unsafe fn matvec4_avx2<const D: usize>(t: &Tensor<'_>, first: usize, x: &QVec<D>, out: &mut [i32]) {
    let groups = t.groups();
    rows4(t, first, x, out, |s| {
        let mut acc = [_mm256_setzero_si256(); 4];
        for j in 0..groups / 2 {
            pair_step(s, j, &mut acc);
        }
        if groups % 2 == 1 {
            single_step(s, groups - 1, &mut acc);
        }
        acc
    })
}

/// As [`matvec4_avx2`] with AVX-512: [`quad_step`] over groups of four, then at most one [`pair_step`] and one
/// [`single_step`].
///
/// # Safety
/// The CPU must support AVX-512 F, BW, VNNI (and AVX2); otherwise as for [`matvec4_avx2`].
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
unsafe fn matvec4_avx512<const D: usize>(
    t: &Tensor<'_>,
    first: usize,
    x: &QVec<D>,
    out: &mut [i32],
) {
    let groups = t.groups();
    rows4(t, first, x, out, |s| {
        let mut wide = [_mm512_setzero_si512(); 4];
        for c in 0..groups / 4 {
            quad_step(s, c, &mut wide);
        }
        let mut acc = wide.map(|w| {
            _mm256_add_epi32(_mm512_castsi512_si256(w), _mm512_extracti64x4_epi64::<1>(w))
        });
        let done = 4 * (groups / 4);
        if groups - done >= 2 {
            pair_step(s, done / 2, &mut acc);
        }
        if groups % 2 == 1 {
            single_step(s, groups - 1, &mut acc);
        }
        acc
    })
}

/// Dispatches the int4 product: the AVX-512 kernel under AVX-512 VNNI, else AVX2 (AVX-VNNI adds nothing here: the
/// multipliers need 16-bit products).
///
/// # Safety
/// As for the kernels: the kernel's features present; rows `first..first + out.len()` of `t` are int4 with their
/// multipliers and nibbles; `x` holds `32·groups` readable values.
#[inline(always)]
pub(super) unsafe fn matvec4_block<const D: usize>(
    kernel: Kernel,
    t: &Tensor<'_>,
    first: usize,
    x: &QVec<D>,
    out: &mut [i32],
) {
    match kernel {
        Kernel::Avx512Vnni => matvec4_avx512(t, first, x, out),
        _ => matvec4_avx2(t, first, x, out),
    }
}

/// Dispatches to the AVX2, AVX-VNNI or AVX-512 VNNI kernel: `out[i]` = row `i` of `data` · `x`.
///
/// # Safety
/// As for the kernels: the kernel's features present, `data` holds `out.len()*cols` bytes, `x.len == cols`, and
/// `cols >= 32` for the 256-bit kernels.
#[inline(always)]
pub(super) unsafe fn matvec_block<const D: usize>(
    kernel: Kernel,
    data: *const u8,
    cols: usize,
    x: &QVec<D>,
    out: &mut [i32],
) {
    match kernel {
        Kernel::Avx512Vnni => matvec_avx512(data, cols, x, out),
        Kernel::AvxVnni => matvec_vnni(data, cols, x, out),
        _ => matvec_avx2(data, cols, x, out),
    }
}

/// Runs `f` compiled for AVX2 (after inlining, its loops vectorize 256 bits wide; no FMA, so the rounding is that
/// of the scalar code).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Runs `f` compiled for AVX-512 (F, BW, VNNI); no FMA, as for [`with_avx2`].
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VNNI.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}
