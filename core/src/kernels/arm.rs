//! Cortex-M DSP int8 matrix-vector product: each 32-bit load of four weights is split by `SXTB16` into two
//! pairs of int16, each multiplied-and-accumulated against a pair of activations with one `SMLAD`.
//! Two rows share each activation load.

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
    unsafe { asm!("sxtb16 {0}, {1}, ror #8", out(reg) r, in(reg) x, options(pure, nomem, nostack)) };
    r
}

#[inline(always)]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let r: i32;
    // SAFETY: pure register arithmetic.
    unsafe { asm!("smlad {0}, {1}, {2}, {3}", out(reg) r, in(reg) a, in(reg) b, in(reg) acc, options(pure, nomem, nostack)) };
    r
}

#[inline(always)]
fn word(b: &[u8]) -> u32 {
    match b {
        &[a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

pub(super) fn matvec<const D: usize>(data: &[u8], rows: usize, cols: usize, x: &QVec<D>, f: &mut impl FnMut(usize, i32)) {
    let groups = cols / 4;
    let xq = x.values();
    // perm holds (x0,x2),(x1,x3) per group of four as i16 pairs.
    let pairs = |p: &[i16]| -> (u32, u32) {
        let h = |v: i16| u32::from(v as u16);
        match p {
            &[a, b, c, d] => (h(a) | (h(b) << 16), h(c) | (h(d) << 16)),
            _ => (0, 0),
        }
    };
    let tail = |row: &[u8]| -> i32 {
        let (t, xt) = (row.get(4 * groups..).unwrap_or(&[]), xq.get(4 * groups..).unwrap_or(&[]));
        t.iter().zip(xt).map(|(&w, &v)| i32::from(w as i8) * i32::from(v)).sum()
    };
    let mut rows_iter = data.chunks_exact(cols).take(rows).enumerate();
    while let Some((r, a)) = rows_iter.next() {
        match rows_iter.next() {
            Some((_, b)) => {
                let (mut acc_a, mut acc_b) = (0i32, 0i32);
                for ((wa, wb), p) in a.chunks_exact(4).zip(b.chunks_exact(4)).zip(x.perm.chunks_exact(4)) {
                    let (x02, x13) = pairs(p);
                    let (wa, wb) = (word(wa), word(wb));
                    acc_a = smlad(sxtb16(wa), x02, acc_a);
                    acc_a = smlad(sxtb16_ror8(wa), x13, acc_a);
                    acc_b = smlad(sxtb16(wb), x02, acc_b);
                    acc_b = smlad(sxtb16_ror8(wb), x13, acc_b);
                }
                f(r, acc_a + tail(a));
                f(r + 1, acc_b + tail(b));
            }
            None => {
                let mut acc = 0i32;
                for (w, p) in a.chunks_exact(4).zip(x.perm.chunks_exact(4)) {
                    let ((x02, x13), w) = (pairs(p), word(w));
                    acc = smlad(sxtb16(w), x02, acc);
                    acc = smlad(sxtb16_ror8(w), x13, acc);
                }
                f(r, acc + tail(a));
            }
        }
    }
}
