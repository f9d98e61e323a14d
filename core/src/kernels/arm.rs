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

/// One chunk of [`lane_sums`]: the lane's word at `off`, the activation pairs at `xoff`.
macro_rules! chunk {
    ($off:literal, $xoff:literal) => {
        concat!(
            "ldr {w}, [{p}, #",
            $off,
            "]\n",
            "ldrd {x02}, {x13}, [{px}, #",
            $xoff,
            "]\n",
            "and {t}, {w}, {mask}\n",
            "and {w}, {mask}, {w}, lsr #4\n",
            "uxtb16 {v}, {t}\n",
            "smlad {lo}, {v}, {x02}, {lo}\n",
            "uxtb16 {v}, {t}, ror #8\n",
            "smlad {lo}, {v}, {x13}, {lo}\n",
            "uxtb16 {v}, {w}\n",
            "smlad {hi}, {v}, {x02}, {hi}\n",
            "uxtb16 {v}, {w}, ror #8\n",
            "smlad {hi}, {v}, {x13}, {hi}\n",
        )
    };
}

/// One lane of one int4 group (`FORMAT.md`): the sums `Σ q·x` of its two rows (low and high nibbles), both
/// starting at `start` (`−8·Σx`, the offset of `u = q + 8`). Per chunk one word of 8 nibbles: `and` with
/// `0x0F0F0F0F` (and with the word shifted by 4) leaves `u` in each byte, `UXTB16` splits the bytes into pairs for
/// `SMLAD` against the activation pairs (x0, x2), (x1, x3) of `QVec::perm`. Written out (the compiler's version
/// spills): 12 instructions per 8 weights, 11 registers.
///
/// # Safety
/// `p` points at the lane's first word, with 7 more at 64-byte steps; `px` at 16 readable, 8-aligned words.
#[inline(always)]
unsafe fn lane_sums(p: *const u8, px: *const u32, start: i32) -> [i32; 2] {
    let (mut lo, mut hi) = (start, start);
    // SAFETY: the caller's bounds; word loads of the weights (unaligned allowed on ARMv7E-M), LDRD on the
    // 8-aligned pairs.
    unsafe {
        asm!(
            chunk!("0", "0"),
            chunk!("64", "8"),
            chunk!("128", "16"),
            chunk!("192", "24"),
            chunk!("256", "32"),
            chunk!("320", "40"),
            chunk!("384", "48"),
            chunk!("448", "56"),
            p = in(reg) p,
            px = in(reg) px,
            mask = in(reg) 0x0F0F_0F0Fu32,
            lo = inout(reg) lo,
            hi = inout(reg) hi,
            w = out(reg) _,
            x02 = out(reg) _,
            x13 = out(reg) _,
            t = out(reg) _,
            v = out(reg) _,
            options(nostack, readonly, pure),
        );
    }
    [lo, hi]
}

/// The sums of int4 blocks `first_block..` of `t` into `out` (32 per block; see `matvec_i4`): per group of each
/// block, both rows' sums of each lane with [`lane_sums`], times the multipliers (`MLA`).
pub(super) fn matvec4_blocks<const D: usize>(
    t: &crate::tensor::Tensor<'_>,
    first_block: usize,
    x: &QVec<D>,
    off: &super::Int4Offsets,
    out: &mut [i32],
) {
    let s = t.int4();
    let pairs = x.perm.0.as_ptr().cast::<u32>();
    for (i, o) in out.chunks_exact_mut(32).enumerate() {
        let b = first_block + i;
        o.fill(0);
        let (lo_rows, hi_rows) = o.split_at_mut(16);
        for (g, &o8) in off.all.iter().enumerate().take(s.groups) {
            let (at, m) = (s.group_at(b, g), s.mult_at(32 * b, g));
            let (Some(group), Some(mults)) = (t.data.get(at..at + 512), t.data.get(m..m + 32))
            else {
                debug_assert!(false, "unreachable: the tensor's length was checked");
                return;
            };
            let (ml, mh) = mults.split_at(16);
            // An opaque lane count keeps the loop a loop: unrolled, its 16 copies of the asm cost 6 KB of flash.
            let lanes = core::hint::black_box(16);
            let rows = lo_rows
                .iter_mut()
                .zip(hi_rows.iter_mut())
                .zip(ml.iter().zip(mh));
            for (lane, ((lo_row, hi_row), (&ml, &mh))) in rows.enumerate().take(lanes) {
                // SAFETY: the lane's 8 words are inside the group's 512 bytes; `perm` holds 32·groups ≤ D i16
                // (matvec_i4 checks), i.e. 16 words for group g, and is 8-aligned.
                let [lo, hi] =
                    unsafe { lane_sums(group.as_ptr().add(4 * lane), pairs.add(16 * g), -o8) };
                *lo_row += lo * i32::from(ml);
                *hi_row += hi * i32::from(mh);
            }
        }
    }
}
