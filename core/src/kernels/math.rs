//! `exp`, `sigmoid` and `tanh` from IEEE-754 single-precision `+ - * /` and bit moves only.
//!
//! No libm calls, no table, no branch: a loop over a slice of them vectorizes, and because basic IEEE operations
//! round the same way on every target (and Rust never fuses `a * b + c`), a board and a desktop get the same bits.
//!
//! * `exp`: Cody–Waite range reduction `x = k·ln2 + r`, `|r| ≤ ln2/2`, with `k` rounded to nearest by the
//!   `1.5·2²³` trick, then the degree-7 Taylor-like minimax polynomial of Cephes `expf` and `2^k` built from bits.
//!   Inputs are clamped to `[-87, 88]` so the result is a normal float (`exp(-87) ≈ 1.6e-38`); the relative error
//!   against the exact value is below 2.5e-7 (tested).
//! * `sigmoid(x) = 1 / (1 + exp(-x))`.
//! * `tanh`: the Cephes odd polynomial for `|x| < 0.625` (relative error below 3e-7), else
//!   `sign(x)·(1 - 2 / (exp(2|x|) + 1))` (absolute error below 2e-7); both are computed and one is selected.

const LOG2E: f32 = core::f32::consts::LOG2_E;
/// Adding then subtracting `1.5·2²³` rounds an `|x| < 2²²` to the nearest integer (ties to even).
const ROUND: f32 = 12_582_912.0;
/// `ln 2` split so that `k * LN2_HI` is exact for `|k| < 2⁹`.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x` (see the module notes for range and accuracy).
///
/// ```
/// let e = quill_core::kernels::exp(1.0);
/// assert!((e - core::f32::consts::E).abs() <= 2.0 * f32::EPSILON * e);
/// assert_eq!(quill_core::kernels::exp(0.0), 1.0);
/// ```
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let k = t - ROUND;
    // The low mantissa bits of `t` hold k (two's complement) because t is within 2²² of ROUND.
    let ki = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = x - k * LN2_HI - k * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * (r * r) + r + 1.0;
    // k is in [-126, 127] after the clamp, so the biased exponent is a normal one.
    e * f32::from_bits((ki.wrapping_add(127) as u32) << 23)
}

/// Logistic sigmoid `1 / (1 + e^-x)`.
///
/// ```
/// assert_eq!(quill_core::kernels::sigmoid(0.0), 0.5);
/// assert!(quill_core::kernels::sigmoid(-100.0) < 1e-37);
/// ```
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Hyperbolic tangent.
///
/// ```
/// use quill_core::kernels::tanh;
/// assert_eq!((tanh(0.0), tanh(20.0), tanh(-20.0)), (0.0, 1.0, -1.0));
/// assert!((tanh(0.5) - 0.462_117_16).abs() < 1e-7);
/// ```
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3;
    p = p * z + 2.063_909e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 1.333_144_2e-1;
    p = p * z - 0.333_332_8;
    let small = p * z * x + x;
    let large = 1.0 - 2.0 / (exp(2.0 * a.min(10.0)) + 1.0);
    if a < 0.625 {
        small
    } else {
        large.copysign(x)
    }
}

/// Rounds to the nearest integer, ties to even, for `|x| < 2²²` (activation quantization; the same on every
/// target, unlike a `libm` call it vectorizes).
#[inline(always)]
pub(crate) fn round_even(x: f32) -> f32 {
    (x + ROUND) - ROUND
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(got: f32, want: f64) -> f64 {
        ((f64::from(got) - want) / want).abs()
    }

    #[test]
    fn exp_is_accurate_over_its_range() {
        let mut worst = 0.0f64;
        for i in -86_999..=87_999 {
            let x = i as f32 * 1e-3;
            worst = worst.max(rel(exp(x), f64::from(x).exp()));
        }
        assert!(worst < 2.5e-7, "worst relative error {worst:e}");
        assert_eq!(exp(-1000.0), exp(-87.0));
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn sigmoid_and_tanh_are_accurate() {
        let (mut s, mut t) = (0.0f64, 0.0f64);
        for i in -20_000..=20_000 {
            let x = i as f32 * 1e-3;
            let xd = f64::from(x);
            s = s.max((f64::from(sigmoid(x)) - 1.0 / (1.0 + (-xd).exp())).abs());
            t = t.max((f64::from(tanh(x)) - xd.tanh()).abs());
            if x.abs() < 0.625 && x != 0.0 {
                assert!(rel(tanh(x), xd.tanh()) < 3e-7, "tanh({x})");
            }
        }
        assert!(s < 2e-7 && t < 2e-7, "sigmoid {s:e}, tanh {t:e}");
    }

    #[test]
    fn round_even_matches_the_definition() {
        for (x, want) in [
            (0.5, 0.0),
            (1.5, 2.0),
            (-2.5, -2.0),
            (2.4999, 2.0),
            (-126.6, -127.0),
        ] {
            assert_eq!(round_even(x), want, "{x}");
        }
    }
}
