//! What the network reads while it trains: the ground truth (teacher forcing), or, with scheduled sampling
//! (Bengio et al. 2015), now and then its own sampled prediction, more often as training goes on.
//!
//! Scheduled sampling here is the two-pass form (Duckworth et al. 2019, "Parallel Scheduled Sampling"): a forward
//! pass without gradients and without dropout predicts every position of the window, one token is sampled from
//! each prediction, and each input from the second position on is replaced by the model's own token for the
//! previous position with probability 1 − ε; the training step then runs on the mixed window with the usual
//! fused kernels. With ε = 1 nothing is replaced and no pass is added: the step is teacher forcing, bit for bit.

use tch::{Kind, Tensor};

use crate::net::{Net, State};

/// `--forcing`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Forcing {
    /// Every input is the ground truth.
    #[default]
    Teacher,
    /// Inputs are the model's own samples with probability 1 − ε, ε decaying over training (`--ss-decay`).
    Scheduled,
    /// Professor Forcing (Lamb et al. 2016): teacher forcing plus a discriminator that makes free-running
    /// behaviour look teacher-forced (`crate::professor`).
    Professor,
}

/// How ε falls with the training step `i` (counted over all epochs), `k` being `--ss-k`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Decay {
    /// ε = k / (k + exp(i / k)) (Bengio et al.'s inverse sigmoid; ½ near step k·ln k).
    #[default]
    InverseSigmoid,
    /// ε = 1 − i / k.
    Linear,
    /// ε = exp(−i / k).
    Exponential,
}

/// The schedule: ε at each training step, never below `min`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Schedule {
    /// The curve.
    pub decay: Decay,
    /// Its step scale (> 0).
    pub k: f64,
    /// The floor of ε, in [0, 1].
    pub min: f64,
}

impl Schedule {
    /// ε at training step `i`, in `[min, 1]`.
    ///
    /// ```
    /// use quill_trainer::forcing::{Decay, Schedule};
    /// let s = Schedule { decay: Decay::Linear, k: 100.0, min: 0.25 };
    /// assert_eq!((s.epsilon(0), s.epsilon(50), s.epsilon(1000)), (1.0, 0.5, 0.25));
    /// let s = Schedule { decay: Decay::InverseSigmoid, k: 100.0, min: 0.0 };
    /// assert!((s.epsilon((100.0 * 100f64.ln()) as u64) - 0.5).abs() < 0.01);
    /// ```
    pub fn epsilon(&self, i: u64) -> f64 {
        let i = i as f64;
        let e = match self.decay {
            Decay::InverseSigmoid => self.k / (self.k + (i / self.k).exp()),
            Decay::Linear => 1.0 - i / self.k,
            Decay::Exponential => (-i / self.k).exp(),
        };
        e.clamp(self.min, 1.0)
    }
}

/// The inputs of one training window under scheduled sampling with `epsilon`: `xs` (B, T) with each position
/// from the second on replaced, with probability 1 − ε, by a token sampled from the model's prediction for the
/// position before it (computed from `state` without gradients or dropout). Returns `xs` itself when ε ≥ 1.
///
/// Only the positions whose coin came up "own" are sampled, by inverse CDF (one uniform draw against the
/// cumulative softmax of each such row): `multinomial` over every row of a (32·35, 8,000) window cost five
/// training steps on a CPU.
pub fn mixed_inputs(net: &Net, xs: &Tensor, state: &State, epsilon: f64) -> Tensor {
    if epsilon >= 1.0 {
        return xs.shallow_clone();
    }
    let (b, t) = (xs.size()[0], xs.size()[1]);
    if t < 2 {
        return xs.shallow_clone();
    }
    tch::no_grad(|| {
        let device = xs.device();
        // Positions 1..T: own token (the prediction for the position before) with probability 1 − ε.
        let coin = Tensor::rand([b, t - 1], (Kind::Float, device)).ge(epsilon);
        let rows = coin.reshape([-1]).nonzero().squeeze_dim(1);
        if rows.size()[0] == 0 {
            return xs.shallow_clone();
        }
        let (logits, _) = net.forward(xs, state, false);
        let v = logits.size()[2];
        let chosen = logits
            .narrow(1, 0, t - 1)
            .reshape([-1, v])
            .index_select(0, &rows);
        let own = sample_rows(&chosen).to_kind(xs.kind());
        let tail = xs
            .narrow(1, 1, t - 1)
            .reshape([-1])
            .index_copy(0, &rows, &own)
            .reshape([b, t - 1]);
        Tensor::cat(&[xs.narrow(1, 0, 1), tail], 1)
    })
}

/// One token per row of `logits` (N, V), drawn from its softmax by inverse CDF: a uniform draw scaled to the
/// row's total, then a binary search in the cumulative probabilities.
pub fn sample_rows(logits: &Tensor) -> Tensor {
    let v = logits.size()[1];
    let cdf = logits.softmax(-1, Kind::Float).cumsum(-1, Kind::Float);
    let total = cdf.narrow(1, v - 1, 1);
    let u = Tensor::rand([logits.size()[0], 1], (Kind::Float, logits.device())) * total;
    u.searchsorted(&cdf, false, false, "left", None::<Tensor>)
        .clamp_max(v - 1)
        .squeeze_dim(1)
}

/// The fraction of positions of `a` that differ from `b` (how much of a window the model fed itself).
pub fn replaced(a: &Tensor, b: &Tensor) -> f64 {
    a.ne_tensor(b)
        .to_kind(Kind::Float)
        .mean(Kind::Float)
        .double_value(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_sampled_from_their_softmax() {
        tch::manual_seed(5);
        let p = [0.2f32, 0.3, 0.5];
        let row = Tensor::from_slice(&p.map(f32::ln));
        let logits = row.unsqueeze(0).repeat([30_000, 1]);
        let ids = Vec::<i64>::try_from(sample_rows(&logits)).unwrap();
        for (k, want) in p.iter().enumerate() {
            let got = ids.iter().filter(|&&i| i == k as i64).count() as f64 / ids.len() as f64;
            assert!(
                (got - f64::from(*want)).abs() < 0.015,
                "token {k}: {got} vs {want}"
            );
        }
    }
}
