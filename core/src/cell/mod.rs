//! One step of a recurrent layer, one file per cell (`lstm.rs`, `gru.rs`), each on both precisions.
//!
//! A layer step reads its input from [`Io`] (the quantized vector on the int8 path, the float vector on the
//! float path), updates the layer's state in place, and leaves the layer's output `h` in [`Io`] as the next
//! layer's input. The products go through [`product`], so the int8 and float paths differ in arithmetic only.
//! `gates` are the pre-activations, gate-major (`gate * H + unit`, the row order of `W_ih` and `W_hh`, so a block
//! of rows adds into a contiguous run): 4H values for the LSTM; for the GRU 3H input-side sums, then H values of
//! `W_hn h + b_hn`.

pub(crate) mod gru;
pub(crate) mod lstm;

use crate::kernels::{dequantize, matvec_f32, matvec_int, Kernel, QVec, BLOCK};
use crate::tensor::{F32s, Tensor};

/// Which arithmetic runs the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// int8 weights × int8 activations, exact i32 sums (the deployment path).
    Int8,
    /// f32 activations × dequantized (or f32) weights: the reference the int8 path is measured against.
    Float,
}

/// The working buffers a layer step reads and writes.
pub(crate) struct Io<'s, const D: usize> {
    pub(crate) kernel: Kernel,
    pub(crate) precision: Precision,
    /// Layer input, quantized (int8 path); the layer output after the step.
    pub(crate) xq: &'s mut QVec<D>,
    /// Layer input (float path); the layer output after the step.
    pub(crate) xf: &'s mut [f32; D],
    /// The layer's previous `h`, quantized (int8 path).
    pub(crate) hq: &'s mut QVec<D>,
}

impl<const D: usize> Io<'_, D> {
    /// `gates += W_ih · input` through `add(first, values)`.
    #[inline(always)]
    pub(crate) fn input_product(&self, w: &Tensor<'_>, add: impl FnMut(usize, &[f32])) {
        product(self.kernel, self.precision, w, self.xq, &self.xf[..], add);
    }

    /// `W_hh · h` through `add(first, values)` (quantizes `h` first on the int8 path).
    #[inline(always)]
    pub(crate) fn hidden_product(
        &mut self,
        w: &Tensor<'_>,
        h: &[f32],
        add: impl FnMut(usize, &[f32]),
    ) {
        if self.precision == Precision::Int8 {
            self.hq.quantize(h);
        }
        product(self.kernel, self.precision, w, self.hq, h, add);
    }

    /// Makes `h` the next layer's input.
    #[inline(always)]
    pub(crate) fn output(&mut self, h: &[f32]) {
        match self.precision {
            Precision::Int8 => self.xq.quantize(h),
            Precision::Float => {
                for (x, &v) in self.xf.iter_mut().zip(h) {
                    *x = v;
                }
            }
        }
    }
}

/// `add(first, W[first..] · x)` for blocks of rows: int8 or int4 sums scaled back to real values (`q` is `x`
/// quantized), or the float reference product with `x` itself.
#[inline(always)]
pub(crate) fn product<const D: usize>(
    kernel: Kernel,
    precision: Precision,
    w: &Tensor<'_>,
    q: &QVec<D>,
    x: &[f32],
    mut add: impl FnMut(usize, &[f32]),
) {
    match precision {
        Precision::Int8 => {
            let mut buf = [0f32; BLOCK];
            matvec_int(
                kernel,
                w,
                q,
                #[inline(always)]
                |first, sums| {
                    let out = buf.get_mut(..sums.len()).unwrap_or(&mut []);
                    dequantize(sums, &w.scales, first, q.scale, None, out);
                    add(first, out);
                },
            );
        }
        Precision::Float => matvec_f32(w, head(x, w.cols), add),
    }
}

/// The first `n` values of `v` (all of it if shorter).
#[inline(always)]
pub(crate) fn head(v: &[f32], n: usize) -> &[f32] {
    v.get(..n).unwrap_or(v)
}

/// `gates[first + i] += v[i]`.
#[inline(always)]
pub(crate) fn add_into(gates: &mut [f32], first: usize, v: &[f32]) {
    for (g, &v) in gates.get_mut(first..).unwrap_or(&mut []).iter_mut().zip(v) {
        *g += v;
    }
}

/// `gates[at + i] = values[i]` for the stored biases.
#[inline(always)]
pub(crate) fn set_from(gates: &mut [f32], at: usize, values: &F32s<'_>) {
    for (g, b) in gates
        .get_mut(at..)
        .unwrap_or(&mut [])
        .iter_mut()
        .zip(values.iter_from(0))
    {
        *g = b;
    }
}
