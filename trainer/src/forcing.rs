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
pub fn mixed_inputs(net: &Net, xs: &Tensor, state: &State, epsilon: f64) -> Tensor {
    if epsilon >= 1.0 {
        return xs.shallow_clone();
    }
    let (b, t) = (xs.size()[0], xs.size()[1]);
    tch::no_grad(|| {
        let (logits, _) = net.forward(xs, state, false);
        let v = logits.size()[2];
        let own = logits
            .softmax(-1, Kind::Float)
            .reshape([-1, v])
            .multinomial(1, true)
            .reshape([b, t]);
        // The prediction at position j − 1 is a candidate input for position j.
        let own = Tensor::cat(&[xs.narrow(1, 0, 1), own.narrow(1, 0, t - 1)], 1);
        let coin = Tensor::rand([b, t], (Kind::Float, xs.device())).ge(epsilon);
        let _ = coin.narrow(1, 0, 1).fill_(0);
        own.where_self(&coin, xs)
    })
}

/// The fraction of positions of `a` that differ from `b` (how much of a window the model fed itself).
pub fn replaced(a: &Tensor, b: &Tensor) -> f64 {
    a.ne_tensor(b)
        .to_kind(Kind::Float)
        .mean(Kind::Float)
        .double_value(&[])
}
