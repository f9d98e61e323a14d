//! The LSTM layer step (`torch.nn.LSTM`): gate rows i, f, g, o; `c' = σ(f)·c + σ(i)·tanh(g)`, `h' = σ(o)·tanh(c')`.

use super::{add_into, head, set_from, Io};
use crate::kernels::{sigmoid, tanh};
use crate::model::Layer;

/// One LSTM step of `layer` on `io`'s input; `h` and `c` (H values used) are updated in place, `gates` (4H
/// values) is scratch.
#[inline(always)]
pub(crate) fn step<const D: usize>(
    io: &mut Io<'_, D>,
    layer: &Layer<'_>,
    gates: &mut [f32],
    h: &mut [f32; D],
    c: &mut [f32; D],
    hid: usize,
) {
    // Biases first, then both products add into the rows they own.
    set_from(gates, 0, &layer.bias);
    io.input_product(&layer.w_ih, |first, v| add_into(gates, first, v));
    io.hidden_product(&layer.w_hh, head(h, hid), |first, v| {
        add_into(gates, first, v)
    });
    cell(gates, c, h, hid);
    io.output(head(h, hid));
}

/// PyTorch's LSTM cell on gate-major pre-activations.
#[inline(always)]
fn cell<const D: usize>(gates: &[f32], c: &mut [f32; D], h: &mut [f32; D], hid: usize) {
    let (gi, rest) = gates.split_at(hid.min(gates.len()));
    let (gf, rest) = rest.split_at(hid.min(rest.len()));
    let (gg, go) = rest.split_at(hid.min(rest.len()));
    let cells = c.iter_mut().zip(h.iter_mut()).take(hid);
    for ((((c, h), &i), &f), (&g, &o)) in cells.zip(gi).zip(gf).zip(gg.iter().zip(go)) {
        *c = sigmoid(f) * *c + sigmoid(i) * tanh(g);
        *h = sigmoid(o) * tanh(*c);
    }
}
