//! AVX2 and AVX-VNNI int8 matrix-vector products, four rows per pass over the shared activation.
//!
//! `x` is signed, the weights are signed; the unsigned×signed instructions see `|x|` and `sign(x) * w`
//! (`vpsignb`), whose products are the same. Weights are in `[-127, 127]`, so `vpmaddubsw` pairs never saturate.
//! The last `cols % 32` columns are done by re-reading the row's final 32 bytes against `QVec::tail_*`, which is
//! zero where that window overlaps the columns already summed: no scalar tail, no read past the row.

#![allow(clippy::indexing_slicing)] // reason: only raw-pointer loads below, bounds argued at each unsafe block

use core::arch::x86_64::*;

use super::{Int4Offsets, Kernel, QVec};
use crate::format::{INT4_BLOCK, INT4_GROUP};
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

/// The 4 activations of columns `c..c + 4` in every 32-bit lane.
#[inline(always)]
unsafe fn x4(x: *const i8, c: usize) -> i32 {
    core::ptr::read_unaligned(x.add(c).cast::<i32>())
}

/// The sums of int4 blocks `first_block..` of `t` into `out` (32 per block, `FORMAT.md` layout) with AVX-512 VNNI.
///
/// One 64-byte load is a chunk: 32 rows × 4 columns, rows `l` and `l + 16` in the low and high nibbles of lane
/// `l`. Against the chunk's 4 activations (broadcast), `vpdpbusd` sums the low nibbles (after one `and`) and the
/// whole bytes `u_lo + 16·u_hi`: their difference is 16 × the high rows' sums, shifted back exactly. Each group's
/// sums start at the offsets (`−8·Σx` and `−136·Σx`, for `u = q + 8`), so they end as `Σ q·x` (`|·| < 2¹⁵`), and
/// `vpdpwssd` adds them times the multipliers (zero-extended to 32 bits). 2 `vpdpbusd` + 1 `and` per 128
/// weights, against int8's 2 `vpdpbusd` + 2 sign flips.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VNNI; blocks `first_block..first_block + out.len() / 32` exist in `t`
/// (its data is as long as its shape says); `x` holds `32·groups` readable values; `off` has the groups'
/// offsets.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn matvec4_avx512(
    t: &Tensor<'_>,
    first_block: usize,
    x: *const i8,
    off: &Int4Offsets,
    out: &mut [i32],
) {
    let mut b = first_block;
    let mut rest = out;
    while rest.len() >= 4 * INT4_BLOCK {
        let (o, r) = rest.split_at_mut(4 * INT4_BLOCK);
        blocks4_avx512::<4>(t, b, x, off, o);
        (rest, b) = (r, b + 4);
    }
    if rest.len() >= 2 * INT4_BLOCK {
        let (o, r) = rest.split_at_mut(2 * INT4_BLOCK);
        blocks4_avx512::<2>(t, b, x, off, o);
        (rest, b) = (r, b + 2);
    }
    if !rest.is_empty() {
        blocks4_avx512::<1>(t, b, x, off, rest);
    }
}

/// `NB` consecutive blocks of [`matvec4_avx512`] at once: each activation broadcast serves `NB` chunks, and the
/// `2·NB` accumulator chains (low nibbles, whole bytes) are independent, so they hide the `vpdpbusd` latency
/// (4 blocks at a time measured ~10% faster than one on the seed model's dense layer).
///
/// # Safety
/// As for [`matvec4_avx512`]; `out` holds `32·NB` values.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn blocks4_avx512<const NB: usize>(
    t: &Tensor<'_>,
    b: usize,
    x: *const i8,
    off: &Int4Offsets,
    out: &mut [i32],
) {
    let s = t.int4();
    let (base, mask) = (t.data.as_ptr(), _mm512_set1_epi8(0x0F));
    let mults = |p: *const u8| _mm512_cvtepu8_epi32(_mm_loadu_si128(p.cast()));
    let z = _mm512_setzero_si512();
    let (mut lo_rows, mut hi_rows) = ([z; NB], [z; NB]);
    for g in 0..s.groups {
        // The offsets broadcast from memory: a load, not a shuffle.
        let (lo0, all0) = (
            _mm512_set1_epi32(*off.lo.get_unchecked(g)),
            _mm512_set1_epi32(*off.whole.get_unchecked(g)),
        );
        let (mut lo, mut all) = ([lo0; NB], [all0; NB]);
        let w: [*const u8; NB] = core::array::from_fn(|n| base.add(s.group_at(b + n, g)));
        for k in 0..8 {
            let xb = _mm512_set1_epi32(x4(x, INT4_GROUP * g + 4 * k));
            for n in 0..NB {
                let v = _mm512_loadu_si512(w[n].add(64 * k).cast());
                lo[n] = _mm512_dpbusd_epi32(lo[n], _mm512_and_si512(v, mask), xb);
                all[n] = _mm512_dpbusd_epi32(all[n], v, xb);
            }
        }
        for n in 0..NB {
            let m = base.add(s.mult_at(INT4_BLOCK * (b + n), g));
            let h = _mm512_srai_epi32::<4>(_mm512_sub_epi32(all[n], lo[n]));
            lo_rows[n] = _mm512_dpwssd_epi32(lo_rows[n], lo[n], mults(m));
            hi_rows[n] = _mm512_dpwssd_epi32(hi_rows[n], h, mults(m.add(16)));
        }
    }
    for n in 0..NB {
        // out holds 32·NB values.
        _mm512_storeu_si512(out.as_mut_ptr().add(32 * n).cast(), lo_rows[n]);
        _mm512_storeu_si512(out.as_mut_ptr().add(32 * n + 16).cast(), hi_rows[n]);
    }
}

/// As [`matvec4_avx512`] with AVX-VNNI (256-bit `vpdpbusd`, on CPUs that have it without AVX-512): each chunk in
/// two halves of 8 lanes, rows `8h..8h + 8` (low nibbles) and `16 + 8h..` (high). The same whole-byte trick and
/// offsets, so 2 `vpdpbusd` + 1 `and` per 64 weights against AVX2's 7 µops.
///
/// # Safety
/// As for [`matvec4_avx512`], with AVX2 and AVX-VNNI.
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn matvec4_vnni(
    t: &Tensor<'_>,
    first_block: usize,
    x: *const i8,
    off: &Int4Offsets,
    out: &mut [i32],
) {
    let mut b = first_block;
    let mut rest = out;
    while rest.len() >= 2 * INT4_BLOCK {
        let (o, r) = rest.split_at_mut(2 * INT4_BLOCK);
        blocks4_vnni::<2>(t, b, x, off, o);
        (rest, b) = (r, b + 2);
    }
    if !rest.is_empty() {
        blocks4_vnni::<1>(t, b, x, off, rest);
    }
}

/// `NB` consecutive blocks of [`matvec4_vnni`]: one activation broadcast serves `2·NB` half-chunks, whose `4·NB`
/// accumulator chains are independent. The rows' sums gather in `out` (one load and store per group and half).
///
/// # Safety
/// As for [`matvec4_vnni`]; `out` holds `32·NB` values.
#[target_feature(enable = "avx2,avxvnni")]
#[inline]
unsafe fn blocks4_vnni<const NB: usize>(
    t: &Tensor<'_>,
    b: usize,
    x: *const i8,
    off: &Int4Offsets,
    out: &mut [i32],
) {
    let s = t.int4();
    let (base, mask) = (t.data.as_ptr(), _mm256_set1_epi8(0x0F));
    let mults = |p: *const u8| _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast()));
    let o = out.as_mut_ptr();
    // out holds 32·NB values.
    for i in 0..4 * NB {
        _mm256_storeu_si256(o.add(8 * i).cast(), _mm256_setzero_si256());
    }
    for g in 0..s.groups {
        let (lo0, all0) = (
            _mm256_set1_epi32(*off.lo.get_unchecked(g)),
            _mm256_set1_epi32(*off.whole.get_unchecked(g)),
        );
        // Half-chunk `2n + h`: block `b + n`, lanes `8h..8h + 8`.
        let (mut lo, mut all) = ([[lo0; 2]; NB], [[all0; 2]; NB]);
        let w: [*const u8; NB] = core::array::from_fn(|n| base.add(s.group_at(b + n, g)));
        for k in 0..8 {
            let xb = _mm256_set1_epi32(x4(x, INT4_GROUP * g + 4 * k));
            for n in 0..NB {
                for h in 0..2 {
                    let v = _mm256_loadu_si256(w[n].add(64 * k + 32 * h).cast());
                    lo[n][h] = _mm256_dpbusd_avx_epi32(lo[n][h], _mm256_and_si256(v, mask), xb);
                    all[n][h] = _mm256_dpbusd_avx_epi32(all[n][h], v, xb);
                }
            }
        }
        for n in 0..NB {
            let m = base.add(s.mult_at(INT4_BLOCK * (b + n), g));
            for h in 0..2 {
                let hi = _mm256_srai_epi32::<4>(_mm256_sub_epi32(all[n][h], lo[n][h]));
                let (pl, ph) = (o.add(32 * n + 8 * h), o.add(32 * n + 16 + 8 * h));
                let (sl, sh) = (_mm256_loadu_si256(pl.cast()), _mm256_loadu_si256(ph.cast()));
                let sl = _mm256_dpwssd_avx_epi32(sl, lo[n][h], mults(m.add(8 * h)));
                let sh = _mm256_dpwssd_avx_epi32(sh, hi, mults(m.add(16 + 8 * h)));
                _mm256_storeu_si256(pl.cast(), sl);
                _mm256_storeu_si256(ph.cast(), sh);
            }
        }
    }
}

/// `vpshufb` control that puts multiplier byte `first + L` in both 16-bit halves of 32-bit lane `L` (0..8),
/// zero-extended.
#[inline(always)]
unsafe fn spread_ctrl(first: i32) -> __m256i {
    let lane = |l: i32| ((first + l) * 0x0001_0001) | -0x7FFF_8000;
    let half = _mm_setr_epi32(lane(0), lane(1), lane(2), lane(3));
    _mm256_setr_m128i(half, _mm_setr_epi32(lane(4), lane(5), lane(6), lane(7)))
}

/// As [`matvec4_avx512`] with AVX2, eight lanes (half a chunk) at a time: both nibbles unpacked (`and`, shift),
/// `vpmaddubsw` with the 4 activations gives 16-bit pair sums (≤ 2·15·127 each) added up over the group's 8 chunks
/// from the offsets of [`Int4Offsets::pairs`] (wrapping adds: the final `Σ q·x` of each pair fits 16 bits, so
/// the wrap-arounds cancel), then `vpmaddwd` with the multiplier in both halves of the lane sums the pair and
/// multiplies it in one step.
///
/// # Safety
/// As for [`matvec4_avx512`], with AVX2.
#[target_feature(enable = "avx2")]
unsafe fn matvec4_avx2(
    t: &Tensor<'_>,
    first_block: usize,
    x: *const i8,
    off: &Int4Offsets,
    out: &mut [i32],
) {
    let s = t.int4();
    let (base, mask) = (t.data.as_ptr(), _mm256_set1_epi8(0x0F));
    let ctrl = [spread_ctrl(0), spread_ctrl(8)];
    for (i, o) in out.chunks_exact_mut(INT4_BLOCK).enumerate() {
        let b = first_block + i;
        for (h, ctrl) in ctrl.iter().enumerate() {
            let (mut lo_rows, mut hi_rows) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for g in 0..s.groups {
                let w = base.add(s.group_at(b, g) + 32 * h);
                let m = base.add(s.mult_at(INT4_BLOCK * b, g));
                let start = _mm256_set1_epi32(*off.pairs.get_unchecked(g));
                let (mut lo, mut hi) = (start, start);
                for k in 0..8 {
                    let v = _mm256_loadu_si256(w.add(64 * k).cast());
                    let xb = _mm256_set1_epi32(x4(x, INT4_GROUP * g + 4 * k));
                    let (ulo, uhi) = (
                        _mm256_and_si256(v, mask),
                        _mm256_and_si256(_mm256_srli_epi16::<4>(v), mask),
                    );
                    lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(ulo, xb));
                    hi = _mm256_add_epi16(hi, _mm256_maddubs_epi16(uhi, xb));
                }
                let spread = |p: *const u8| {
                    _mm256_shuffle_epi8(
                        _mm256_broadcastsi128_si256(_mm_loadu_si128(p.cast())),
                        *ctrl,
                    )
                };
                lo_rows = _mm256_add_epi32(lo_rows, _mm256_madd_epi16(lo, spread(m)));
                hi_rows = _mm256_add_epi32(hi_rows, _mm256_madd_epi16(hi, spread(m.add(16))));
            }
            // o holds 32 values: lanes 8h.. are rows 8h.. (low nibbles) and 16 + 8h.. (high).
            _mm256_storeu_si256(o.as_mut_ptr().add(8 * h).cast(), lo_rows);
            _mm256_storeu_si256(o.as_mut_ptr().add(16 + 8 * h).cast(), hi_rows);
        }
    }
}

/// Dispatches the int4 product: the AVX-512 kernel under AVX-512 VNNI, the 256-bit VNNI one under AVX-VNNI, else
/// AVX2.
///
/// # Safety
/// As for the kernels: the kernel's features present; blocks `first_block..first_block + out.len() / 32` exist in
/// `t`; `x` holds `32·groups` readable values; `off` has the groups' offsets.
#[inline(always)]
pub(super) unsafe fn matvec4_blocks<const D: usize>(
    kernel: Kernel,
    t: &Tensor<'_>,
    first_block: usize,
    x: &QVec<D>,
    off: &Int4Offsets,
    out: &mut [i32],
) {
    match kernel {
        Kernel::Avx512Vnni => matvec4_avx512(t, first_block, x.q.as_ptr(), off, out),
        Kernel::AvxVnni => matvec4_vnni(t, first_block, x.q.as_ptr(), off, out),
        _ => matvec4_avx2(t, first_block, x.q.as_ptr(), off, out),
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
