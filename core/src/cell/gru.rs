//! The GRU layer step (`torch.nn.GRU`): gate rows r, z, n;
//! `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
//! `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`, computed as ATen does,
//! `h' = (h − n) ⊙ z + n`.

use super::{add_into, head, set_from, Io};
use crate::kernels::{sigmoid, tanh};
use crate::model::Layer;

/// One GRU step of `layer` on `io`'s input; `h` (H values used) is updated in place. `gates` (4H values) is
/// scratch: rows r and z take both products, the n row takes the input side, and `W_hn h + b_hn` goes to the
/// fourth H-run, because r multiplies it alone.
#[inline(always)]
pub(crate) fn step<const D: usize>(
    io: &mut Io<'_, D>,
    layer: &Layer<'_>,
    gates: &mut [f32],
    h: &mut [f32; D],
    hid: usize,
) {
    set_from(gates, 0, &layer.bias);
    set_from(gates, 3 * hid, &layer.bias_hn);
    io.input_product(&layer.w_ih, |first, v| add_into(gates, first, v));
    io.hidden_product(&layer.w_hh, head(h, hid), |first, v| {
        // Rows below 2H (r, z) add in place; the n rows land H further on.
        let cut = (2 * hid).saturating_sub(first).min(v.len());
        let (rz, n) = v.split_at(cut);
        add_into(gates, first, rz);
        add_into(gates, first + cut + hid, n);
    });
    cell(gates, h, hid);
    io.output(head(h, hid));
}

/// PyTorch's GRU cell on the gate-major sums.
#[inline(always)]
fn cell<const D: usize>(gates: &[f32], h: &mut [f32; D], hid: usize) {
    let (gr, rest) = gates.split_at(hid.min(gates.len()));
    let (gz, rest) = rest.split_at(hid.min(rest.len()));
    let (gn, ghn) = rest.split_at(hid.min(rest.len()));
    let units = h.iter_mut().take(hid).zip(gr).zip(gz);
    for (((h, &r), &z), (&n, &hn)) in units.zip(gn.iter().zip(ghn)) {
        let n = tanh(n + sigmoid(r) * hn);
        *h = (*h - n) * sigmoid(z) + n;
    }
}
