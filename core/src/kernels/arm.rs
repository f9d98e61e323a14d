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

/// `Σ_g m_g · 16·Σ_c u·x / 16` over a row's groups, `u = q + 8` (the caller takes the offset `8·Σ_g m_g·Σx_g`
/// off): per word of nibbles, `(w << 4) & 0xF0F0F0F0` and `w & 0xF0F0F0F0` are four `16·u` each (low and high
/// nibbles), `UXTB16` splits them into pairs for `SMLAD` against the activation pairs of `QVec::perm` (low-nibble
/// pairs at `px`, high at `px + 32` within each group's 64 bytes); per group the sum is shifted back by 4
/// (exact) and multiplied by the group's multiplier (`MLA`). Written out and unrolled per group (13 registers
/// live): 14 instructions per word of 8 weights and 6 per group, against the int8 loop's 11.5 per 8.
///
/// # Safety
/// `groups >= 1`; `pa` points at `16·groups` readable bytes (a row's nibbles), `pm` at `groups` multiplier bytes,
/// `px` at `16·groups` readable, 8-aligned words.
#[inline(always)]
unsafe fn row_sum(pa: *const u8, pm: *const u8, px: *const u32, groups: usize) -> i32 {
    let mut sum = 0i32;
    let end = pm.wrapping_add(groups);
    // SAFETY: the caller's bounds; word loads of the weights (unaligned allowed on ARMv7E-M), LDRD on the
    // 8-aligned pairs, byte loads of the multipliers.
    unsafe {
        asm!(
            "2:",
            "mov {acc}, #0",
            "ldrd {p0}, {p1}, [{px}, #0]",
            "ldrd {p2}, {p3}, [{px}, #32]",
            "ldr {w}, [{pa}], #4",
            "lsl {t}, {w}, #4",
            "and {t}, {t}, #0xF0F0F0F0",
            "uxtb16 {u}, {t}",
            "smlad {acc}, {u}, {p0}, {acc}",
            "uxtb16 {u}, {t}, ror #8",
            "smlad {acc}, {u}, {p1}, {acc}",
            "and {t}, {w}, #0xF0F0F0F0",
            "uxtb16 {u}, {t}",
            "smlad {acc}, {u}, {p2}, {acc}",
            "uxtb16 {u}, {t}, ror #8",
            "smlad {acc}, {u}, {p3}, {acc}",
            "ldrd {p0}, {p1}, [{px}, #8]",
            "ldrd {p2}, {p3}, [{px}, #40]",
            "ldr {w}, [{pa}], #4",
            "lsl {t}, {w}, #4",
            "and {t}, {t}, #0xF0F0F0F0",
            "uxtb16 {u}, {t}",
            "smlad {acc}, {u}, {p0}, {acc}",
            "uxtb16 {u}, {t}, ror #8",
            "smlad {acc}, {u}, {p1}, {acc}",
            "and {t}, {w}, #0xF0F0F0F0",
            "uxtb16 {u}, {t}",
            "smlad {acc}, {u}, {p2}, {acc}",
            "uxtb16 {u}, {t}, ror #8",
            "smlad {acc}, {u}, {p3}, {acc}",
            "ldrd {p0}, {p1}, [{px}, #16]",
            "ldrd {p2}, {p3}, [{px}, #48]",
            "ldr {w}, [{pa}], #4",
            "lsl {t}, {w}, #4",
            "and {t}, {t}, #0xF0F0F0F0",
            "uxtb16 {u}, {t}",
            "smlad {acc}, {u}, {p0}, {acc}",
            "uxtb16 {u}, {t}, ror #8",
            "smlad {acc}, {u}, {p1}, {acc}",
            "and {t}, {w}, #0xF0F0F0F0",
            "uxtb16 {u}, {t}",
            "smlad {acc}, {u}, {p2}, {acc}",
            "uxtb16 {u}, {t}, ror #8",
            "smlad {acc}, {u}, {p3}, {acc}",
            "ldrd {p0}, {p1}, [{px}, #24]",
            "ldrd {p2}, {p3}, [{px}, #56]",
            "ldr {w}, [{pa}], #4",
            "lsl {t}, {w}, #4",
            "and {t}, {t}, #0xF0F0F0F0",
            "uxtb16 {u}, {t}",
            "smlad {acc}, {u}, {p0}, {acc}",
            "uxtb16 {u}, {t}, ror #8",
            "smlad {acc}, {u}, {p1}, {acc}",
            "and {t}, {w}, #0xF0F0F0F0",
            "uxtb16 {u}, {t}",
            "smlad {acc}, {u}, {p2}, {acc}",
            "uxtb16 {u}, {t}, ror #8",
            "smlad {acc}, {u}, {p3}, {acc}",
            "asr {acc}, {acc}, #4",
            "ldrb {t}, [{pm}], #1",
            "mla {sum}, {t}, {acc}, {sum}",
            "add {px}, {px}, #64",
            "cmp {pm}, {end}",
            "bne 2b",
            pa = inout(reg) pa => _,
            pm = inout(reg) pm => _,
            px = inout(reg) px => _,
            end = in(reg) end,
            sum = inout(reg) sum,
            acc = out(reg) _,
            p0 = out(reg) _,
            p1 = out(reg) _,
            p2 = out(reg) _,
            p3 = out(reg) _,
            w = out(reg) _,
            t = out(reg) _,
            u = out(reg) _,
            options(nostack, readonly),
        );
    }
    sum
}

/// Most int4 groups in a row this kernel takes (2,048 columns; wider rows run the scalar reference): its offsets
/// stay a 256-byte buffer on the stack.
pub(super) const MAX_GROUPS: usize = 64;

/// `8 · Σx` of each group of 32 activations (x is zero past its length): the offset of `u = q + 8`, computed
/// once per product.
pub(super) fn group_offsets<const D: usize>(x: &QVec<D>, groups: usize) -> [i32; MAX_GROUPS] {
    let mut offset = [0i32; MAX_GROUPS];
    for (o, g) in offset.iter_mut().zip(x.q.chunks_exact(32)).take(groups) {
        *o = 8 * g.iter().map(|&v| i32::from(v)).sum::<i32>();
    }
    offset
}

/// `out[i]` = int4 row `first + i` of `t` · `x` (see `matvec_i4`): [`row_sum`] less the offset
/// `Σ_g m_g · 8·Σx_g` (`offset`, from [`group_offsets`]).
pub(super) fn matvec4_block<const D: usize>(
    t: &crate::tensor::Tensor<'_>,
    first: usize,
    x: &QVec<D>,
    offset: &[i32; MAX_GROUPS],
    out: &mut [i32],
) {
    let groups = t.groups();
    if 32 * groups > D || groups > MAX_GROUPS {
        for (i, o) in out.iter_mut().enumerate() {
            *o = super::dot_row_i4(t, first + i, x);
        }
        return;
    }
    let pairs = x.perm.0.as_ptr().cast::<u32>();
    for (i, o) in out.iter_mut().enumerate() {
        let (row, mults) = (t.nibbles(first + i), t.multipliers(first + i));
        if groups == 0 || row.len() < 16 * groups || mults.len() < groups {
            debug_assert!(false, "unreachable: rows were checked at load");
            return;
        }
        // SAFETY: groups >= 1; the row holds 16·groups nibble bytes and `groups` multipliers (checked above);
        // `perm` is 8-aligned and holds 32·groups ≤ D i16, i.e. 16·groups words.
        let raw = unsafe { row_sum(row.as_ptr(), mults.as_ptr(), pairs, groups) };
        let off: i32 = mults
            .iter()
            .zip(offset)
            .map(|(&m, &o)| i32::from(m) * o)
            .sum();
        *o = raw - off;
    }
}
