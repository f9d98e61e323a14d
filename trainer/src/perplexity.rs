//! Loss (and so perplexity, `exp(loss)`) of a model on tokens: through libtorch in batches (validation while
//! training, `quill eval CHECKPOINT`), through libtorch one step at a time and through quill-core (the
//! float-vs-int8 comparison of `quill export`, `quill eval MODEL`).

use anyhow::Result;
use quill_core::{Generator, Model, SamplerConfig};
use tch::{Device, Tensor};

use crate::data::{self, Context};
use crate::net::{correct as correct_of, loss as loss_of, Net};
use crate::vocab::Encoded;

/// Mean cross-entropy (nats/token) and accuracy of `net` over `enc`, in batches of `batch` × `seq_len` with
/// `context`'s state handling (no gradients).
pub fn evaluate(
    net: &Net,
    enc: &Encoded,
    context: Context,
    batch: usize,
    seq_len: usize,
    device: Device,
) -> (f64, f64) {
    tch::no_grad(|| {
        let batches = data::batches(enc, context, batch, seq_len, 0, false, device);
        let zero = || Tensor::zeros([], (tch::Kind::Double, device));
        let (mut loss_sum, mut correct, mut count) = (zero(), zero(), 0i64);
        let mut state = None;
        for b in &batches {
            let st = match (&state, b.carry) {
                (Some(st), true) => st,
                _ => &net.zero_state(b.xs.size()[0]),
            };
            let (logits, next) = net.forward(&b.xs, st, false);
            loss_sum += loss_of(&logits, &b.ys).to_kind(tch::Kind::Double) * b.targets as f64;
            correct += correct_of(&logits, &b.ys);
            count += b.targets;
            state = Some(next);
        }
        let n = count.max(1) as f64;
        (
            loss_sum.double_value(&[]) / n,
            correct.double_value(&[]) / n,
        )
    })
}

/// Mean cross-entropy of the checkpoint (libtorch, f32) over `tokens`, one stream from a zero state, reset after
/// each sentence end when `reset_at_ends`.
pub fn float_loss(net: &Net, tokens: &[u32], ends: &[bool], reset_at_ends: bool) -> Result<f64> {
    let mut state = net.zero_state(1);
    let (mut sum, mut n) = (0.0, 0usize);
    for i in 0..tokens.len().saturating_sub(1) {
        if reset_at_ends && ends[i] {
            state = net.zero_state(1);
            continue;
        }
        let (logits, next) = net.step_logits(&state, tokens[i])?;
        sum += nll(&logits, tokens[i + 1]);
        n += 1;
        state = next;
    }
    Ok(sum / n.max(1) as f64)
}

/// The same through quill-core (int8 or float path): the numbers `quill export` and `quill eval` report.
pub fn core_loss(
    model: &Model<'_>,
    float: bool,
    tokens: &[u32],
    ends: &[bool],
    reset_at_ends: bool,
) -> Result<f64> {
    let mut g: Box<Generator<1024, 4, 8>> = Box::new(if float {
        Generator::new_float(model, SamplerConfig::GREEDY, 0)?
    } else {
        Generator::new(model, SamplerConfig::GREEDY, 0)?
    });
    let mut logits = vec![0f32; model.hyper().vocab as usize];
    let (mut sum, mut n) = (0.0, 0usize);
    for i in 0..tokens.len().saturating_sub(1) {
        if reset_at_ends && ends[i] {
            g.reset();
            continue;
        }
        g.feed(tokens[i]);
        g.logits(&mut logits)?;
        sum += nll(&logits, tokens[i + 1]);
        n += 1;
    }
    Ok(sum / n.max(1) as f64)
}

/// -log softmax(logits)[target], in f64.
pub fn nll(logits: &[f32], target: u32) -> f64 {
    let m = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let lse = logits
        .iter()
        .map(|&l| (l as f64 - m).exp())
        .sum::<f64>()
        .ln()
        + m;
    lse - logits.get(target as usize).copied().unwrap_or(0.0) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn nll_of_uniform_logits_is_ln_v() {
        let v = super::nll(&[0.5; 8], 3);
        assert!((v - 8f64.ln()).abs() < 1e-12, "{v}");
        assert!(super::nll(&[10.0, 0.0], 0) < 1e-4);
    }
}
