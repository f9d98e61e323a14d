//! AVX2 and AVX-VNNI int8 matrix-vector products, four rows per pass over the shared activation.
//!
//! `x` is signed, the weights are signed; the unsigned×signed instructions see `|x|` and `sign(x) * w`
//! (`vpsignb`), whose products are the same. Weights are in `[-127, 127]`, so `vpmaddubsw` pairs never saturate.
//! The last `cols % 32` columns are done by re-reading the row's final 32 bytes against `QVec::tail_*`, which is
//! zero where that window overlaps the columns already summed: no scalar tail, no read past the row.

#![allow(clippy::indexing_slicing)] // reason: only raw-pointer loads below, bounds argued at each unsafe block

use core::arch::x86_64::*;

use super::QVec;

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

/// Dispatches to the AVX2 or AVX-VNNI kernel: `out[i]` = row `i` of `data` · `x`.
///
/// # Safety
/// As for the kernels: feature present, `data` holds `out.len()*cols` bytes, `cols >= 32`, `x.len == cols`.
#[inline(always)]
pub(super) unsafe fn matvec_block<const D: usize>(
    vnni: bool,
    data: *const u8,
    cols: usize,
    x: &QVec<D>,
    out: &mut [i32],
) {
    if vnni {
        matvec_vnni(data, cols, x, out)
    } else {
        matvec_avx2(data, cols, x, out)
    }
}
