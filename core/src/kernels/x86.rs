//! AVX2 and AVX-VNNI int8 matrix-vector products, four rows per pass over the shared activation.
//!
//! `x` is signed, the weights are signed; the unsigned×signed instructions see `|x|` and `sign(x) * w`
//! (`vpsignb`), whose products are the same. Weights are in `[-127, 127]`, so `vpmaddubsw` pairs never saturate.
//! The last `cols % 32` columns are done by re-reading the row's final 32 bytes against `QVec::tail_*`, which is
//! zero where that window overlaps the columns already summed: no scalar tail, no read past the row.

#![allow(clippy::indexing_slicing)] // reason: only raw-pointer loads below, bounds argued at each unsafe block

use core::arch::x86_64::*;

use super::{Kernel, QVec};

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
