//! Cortex-M DSP int8 matrix-vector product: each 32-bit load of four weights is split by `SXTB16` into two
//! pairs of int16, each multiplied-and-accumulated against a pair of activations with one `SMLAD`.
//! Four rows share each activation load.

use core::arch::asm;

use super::QVec;

#[inline(always)]
fn sxtb16(x: u32) -> u32 {
    let r: u32;
    // SAFETY: pure register arithmetic.
    unsafe { asm!("sxtb16 {0}, {1}", out(reg) r, in(reg) x, options(pure, nomem, nostack)) };
    r
}

#[inline(always)]
fn sxtb16_ror8(x: u32) -> u32 {
    let r: u32;
    // SAFETY: pure register arithmetic.
    unsafe {
        asm!("sxtb16 {0}, {1}, ror #8", out(reg) r, in(reg) x, options(pure, nomem, nostack))
    };
    r
}

#[inline(always)]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let r: i32;
    // SAFETY: pure register arithmetic.
    unsafe {
        asm!("smlad {0}, {1}, {2}, {3}", out(reg) r, in(reg) a, in(reg) b, in(reg) acc, options(pure, nomem, nostack))
    };
    r
}

/// `acc += w[0..4] · x` with `x02`, `x13` the activation pairs (x0, x2) and (x1, x3).
#[inline(always)]
fn mac4(w: u32, x02: u32, x13: u32, acc: i32) -> i32 {
    smlad(sxtb16_ror8(w), x13, smlad(sxtb16(w), x02, acc))
}

/// `[Σ w0·x, Σ w1·x, Σ w2·x, Σ w3·x]` over `groups` words of four rows: `row0` and `row2` point at rows 0 and 2, rows
/// 1 and 3 are `cols` bytes after them; `pairs` holds the activation pairs (x0, x2), (x1, x3) of each group.
///
/// The loop is written out because the compiler's version spills: 13 registers are live (two row pointers, the
/// stride, the pair pointer, the end, four sums, two pairs, two temporaries), and by hand each group of four
/// columns costs 23 instructions for 16 multiply-adds: `LDRD` of the pairs, then per row `LDR`, two `SXTB16`,
/// two `SMLAD`.
///
/// # Safety
/// `groups >= 1`; rows 0..4 each hold `4 * groups` readable bytes at `row0`, `row0 + cols`, `row2`,
/// `row2 + cols`; `pairs` is 4-byte aligned and holds `2 * groups` words.
#[inline(always)]
unsafe fn dot4(
    row0: *const u8,
    row2: *const u8,
    cols: usize,
    pairs: *const u32,
    groups: usize,
) -> [i32; 4] {
    let mut acc = [0i32; 4];
    let end = row0.wrapping_add(4 * groups);
    // SAFETY: the caller's bounds; the loads are word loads (unaligned allowed on ARMv7E-M) and one LDRD on
    // the aligned pairs.
    unsafe {
        asm!(
            "2:",
            "ldrd {x02}, {x13}, [{px}], #8",
            "ldr {w}, [{pa}, {c}]",
            "sxtb16 {t}, {w}, ror #8",
            "smlad {a1}, {t}, {x13}, {a1}",
            "sxtb16 {w}, {w}",
            "smlad {a1}, {w}, {x02}, {a1}",
            "ldr {w}, [{pa}], #4",
            "sxtb16 {t}, {w}, ror #8",
            "smlad {a0}, {t}, {x13}, {a0}",
            "sxtb16 {w}, {w}",
            "smlad {a0}, {w}, {x02}, {a0}",
            "ldr {w}, [{pb}, {c}]",
            "sxtb16 {t}, {w}, ror #8",
            "smlad {a3}, {t}, {x13}, {a3}",
            "sxtb16 {w}, {w}",
            "smlad {a3}, {w}, {x02}, {a3}",
            "ldr {w}, [{pb}], #4",
            "sxtb16 {t}, {w}, ror #8",
            "smlad {a2}, {t}, {x13}, {a2}",
            "sxtb16 {w}, {w}",
            "smlad {a2}, {w}, {x02}, {a2}",
            "cmp {pa}, {end}",
            "bne 2b",
            pa = inout(reg) row0 => _,
            pb = inout(reg) row2 => _,
            px = inout(reg) pairs => _,
            c = in(reg) cols,
            end = in(reg) end,
            a0 = inout(reg) acc[0],
            a1 = inout(reg) acc[1],
            a2 = inout(reg) acc[2],
            a3 = inout(reg) acc[3],
            x02 = out(reg) _,
            x13 = out(reg) _,
            w = out(reg) _,
            t = out(reg) _,
            options(nostack, readonly),
        );
    }
    acc
}

/// `out[i] = row(i) · x` for the `out.len()` rows of `data` (each `cols` bytes).
pub(super) fn matvec_block<const D: usize>(data: &[u8], cols: usize, x: &QVec<D>, out: &mut [i32]) {
    let groups = cols / 4;
    let xq = x.values();
    let (xt, perm) = (
        xq.get(4 * groups..).unwrap_or(&[]),
        x.perm.0.get(..4 * groups).unwrap_or(&[]),
    );
    let tail = |row: &[u8]| -> i32 {
        let t = row.get(4 * groups..).unwrap_or(&[]);
        t.iter()
            .zip(xt)
            .map(|(&w, &v)| i32::from(w as i8) * i32::from(v))
            .sum()
    };
    let pairs = perm.as_ptr().cast::<u32>();
    let word = |row: &[u8], g: usize| -> u32 {
        // SAFETY: g < groups and row.len() == cols >= 4*groups; unaligned word loads are allowed on ARMv7E-M.
        unsafe { core::ptr::read_unaligned(row.as_ptr().add(4 * g).cast::<u32>()) }
    };
    let xpair = |g: usize| -> (u32, u32) {
        // SAFETY: perm holds 4*groups i16 = 2*groups words; g < groups.
        unsafe {
            (
                core::ptr::read_unaligned(pairs.add(2 * g)),
                core::ptr::read_unaligned(pairs.add(2 * g + 1)),
            )
        }
    };
    let whole = out.len() / 4;
    let mut outs = out.chunks_exact_mut(4);
    for (block, o) in data.chunks_exact(4 * cols).zip(outs.by_ref()) {
        let (a, rest) = block.split_at(cols);
        let (b, rest) = rest.split_at(cols);
        let (c, d) = rest.split_at(cols);
        let acc = if groups == 0 {
            [0; 4]
        } else {
            // SAFETY: groups >= 1; a..d are consecutive rows of `cols >= 4*groups` bytes, so row 1 is `cols` after
            // row 0 and row 3 `cols` after row 2; `pairs` is the 8-aligned `perm` with 2*groups words.
            unsafe { dot4(a.as_ptr(), c.as_ptr(), cols, pairs, groups) }
        };
        if xt.is_empty() {
            o.copy_from_slice(&acc);
        } else {
            for ((o, acc), row) in o.iter_mut().zip(acc).zip([a, b, c, d]) {
                *o = acc + tail(row);
            }
        }
    }
    let rest = data.get(4 * cols * whole..).unwrap_or(&[]);
    for (o, row) in outs
        .into_remainder()
        .iter_mut()
        .zip(rest.chunks_exact(cols))
    {
        let mut acc = 0i32;
        for g in 0..groups {
            let (x02, x13) = xpair(g);
            acc = mac4(word(row, g), x02, x13, acc);
        }
        *o = acc + tail(row);
    }
}

#[inline(always)]
fn ssub8(a: u32, b: u32) -> u32 {
    let r: u32;
    // SAFETY: pure register arithmetic (the GE flags it sets are not read).
    unsafe {
        asm!("ssub8 {0}, {1}, {2}", out(reg) r, in(reg) a, in(reg) b, options(pure, nomem, nostack))
    };
    r
}

/// `acc += q · x` for one word of int4 weights: `w & 0x0F0F0F0F` and `(w >> 4) & 0x0F0F0F0F` are four nibbles
/// `u = q + 8` each, `SSUB8` takes 8 from every byte, `SXTB16` splits them into pairs for `SMLAD` against the
/// activation pairs `(l02, l13)` (columns 4m..) and `(h02, h13)` (columns 16 + 4m..).
#[inline(always)]
fn mac8(w: u32, l: (u32, u32), h: (u32, u32), acc: i32) -> i32 {
    const LOW: u32 = 0x0F0F_0F0F;
    const EIGHTS: u32 = 0x0808_0808;
    let (lo, hi) = (ssub8(w & LOW, EIGHTS), ssub8((w >> 4) & LOW, EIGHTS));
    let acc = smlad(sxtb16_ror8(lo), l.1, smlad(sxtb16(lo), l.0, acc));
    smlad(sxtb16_ror8(hi), h.1, smlad(sxtb16(hi), h.0, acc))
}

/// `out[i]` = int4 row `first + i` of `t` · `x` (see `matvec_i4`), two rows per pass sharing the activation
/// pairs of `QVec::perm`; per group the exact sum is multiplied by the row's multiplier and added up.
pub(super) fn matvec4_block<const D: usize>(
    t: &crate::tensor::Tensor<'_>,
    first: usize,
    x: &QVec<D>,
    out: &mut [i32],
) {
    let groups = t.groups();
    if 32 * groups > D {
        for (i, o) in out.iter_mut().enumerate() {
            *o = super::row_i4(t, first + i, x);
        }
        return;
    }
    let pairs = x.perm.0.as_ptr().cast::<u32>();
    let pair = |i: usize| -> (u32, u32) {
        // SAFETY: i + 1 < 16·groups words = 32·groups i16 ≤ D, the length of the 8-aligned `perm`.
        unsafe {
            (
                core::ptr::read(pairs.add(i)),
                core::ptr::read(pairs.add(i + 1)),
            )
        }
    };
    let word = |row: &[u8], i: usize| -> u32 {
        row.get(4 * i..4 * i + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0x8888_8888, u32::from_le_bytes)
    };
    let mut r = first;
    for o in out.chunks_mut(2) {
        let (ra, rb) = (t.row_i4(r), t.row_i4(r + 1));
        let (ma, mb) = (t.multipliers(r), t.multipliers(r + 1));
        let two = o.len() == 2;
        let (mut sa, mut sb) = (0i32, 0i32);
        for g in 0..groups {
            let (mut ia, mut ib) = (0i32, 0i32);
            for m in 0..4 {
                let lw = 16 * g + 2 * m;
                let (l, h) = (pair(lw), pair(lw + 8));
                ia = mac8(word(ra, 4 * g + m), l, h, ia);
                if two {
                    ib = mac8(word(rb, 4 * g + m), l, h, ib);
                }
            }
            sa += i32::from(ma.get(g).copied().unwrap_or(0)) * ia;
            if two {
                sb += i32::from(mb.get(g).copied().unwrap_or(0)) * ib;
            }
        }
        for (o, v) in o.iter_mut().zip([sa, sb]) {
            *o = v;
        }
        r += 2;
    }
}
