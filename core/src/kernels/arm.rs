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

pub(super) fn matvec<const D: usize>(
    data: &[u8],
    rows: usize,
    cols: usize,
    x: &QVec<D>,
    f: &mut impl FnMut(usize, i32),
) {
    let groups = cols / 4;
    let xq = x.values();
    let (xt, perm) = (
        xq.get(4 * groups..).unwrap_or(&[]),
        x.perm.get(..4 * groups).unwrap_or(&[]),
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
    let mut blocks = data.chunks_exact(4 * cols).take(rows / 4);
    let mut r = 0;
    for block in blocks.by_ref() {
        let (a, rest) = block.split_at(cols);
        let (b, rest) = rest.split_at(cols);
        let (c, d) = rest.split_at(cols);
        let mut acc = [0i32; 4];
        for g in 0..groups {
            let (x02, x13) = xpair(g);
            acc[0] = mac4(word(a, g), x02, x13, acc[0]);
            acc[1] = mac4(word(b, g), x02, x13, acc[1]);
            acc[2] = mac4(word(c, g), x02, x13, acc[2]);
            acc[3] = mac4(word(d, g), x02, x13, acc[3]);
        }
        for (k, row) in [a, b, c, d].into_iter().enumerate() {
            f(r + k, acc.get(k).copied().unwrap_or(0) + tail(row));
        }
        r += 4;
    }
    for row in data
        .get(4 * cols * (rows / 4)..rows * cols)
        .unwrap_or(&[])
        .chunks_exact(cols)
    {
        let mut acc = 0i32;
        for g in 0..groups {
            let (x02, x13) = xpair(g);
            acc = mac4(word(row, g), x02, x13, acc);
        }
        f(r, acc + tail(row));
        r += 1;
    }
}
