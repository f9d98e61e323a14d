//! The libtorch model: Embedding(V, E) → LSTM(E, H) × layers → Dense(H, V), optionally tied.

use anyhow::{bail, Result};
use tch::nn::{self, Init, RNN};
use tch::{Device, Kind, Tensor};

/// Model dimensions and regularization.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetConfig {
    /// Vocabulary size V.
    pub vocab: i64,
    /// Embedding width E.
    pub embed: i64,
    /// Hidden width H.
    pub hidden: i64,
    /// LSTM layers.
    pub layers: i64,
    /// Dropout on the embedding output and the LSTM output (training only).
    pub dropout: f64,
    /// Tie the dense weights to the embedding (needs E = H).
    pub tie: bool,
}

/// The network and its parameters.
pub struct Net {
    /// Parameters: `emb.weight`, `lstm.{weight,bias}_{ih,hh}_l{n}`, `dense.weight` (untied), `dense.bias`.
    pub vs: nn::VarStore,
    emb: Tensor,
    lstm: nn::LSTM,
    dense: Option<Tensor>,
    dense_bias: Tensor,
    /// Dimensions.
    pub cfg: NetConfig,
}

/// LSTM state `(h, c)`, each (layers, B, H).
pub type State = nn::LSTMState;

impl Net {
    /// A freshly initialized network (uses libtorch's global RNG: call `tch::manual_seed` first).
    pub fn new(cfg: NetConfig, device: Device) -> Result<Self> {
        if cfg.tie && cfg.embed != cfg.hidden {
            bail!(
                "--tie needs --embed equal to --hidden (got {} and {})",
                cfg.embed,
                cfg.hidden
            );
        }
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let emb = (&root / "emb").var(
            "weight",
            &[cfg.vocab, cfg.embed],
            Init::Randn {
                mean: 0.0,
                stdev: 0.1,
            },
        );
        let rnn = nn::RNNConfig {
            num_layers: cfg.layers,
            batch_first: true,
            ..Default::default()
        };
        let lstm = nn::lstm(&root / "lstm", cfg.embed, cfg.hidden, rnn);
        let k = 1.0 / (cfg.hidden as f64).sqrt();
        let dense = (!cfg.tie).then(|| {
            (&root / "dense").var(
                "weight",
                &[cfg.vocab, cfg.hidden],
                Init::Uniform { lo: -k, up: k },
            )
        });
        let dense_bias =
            (&root / "dense").var("bias", &[cfg.vocab], Init::Uniform { lo: -k, up: k });
        Ok(Self {
            vs,
            emb,
            lstm,
            dense,
            dense_bias,
            cfg,
        })
    }

    /// Zero state for a batch of `b` sequences.
    pub fn zero_state(&self, b: i64) -> State {
        self.lstm.zero_state(b)
    }

    /// Logits (B, T, V) for token ids `xs` (B, T) from `state`; also the final state.
    pub fn forward(&self, xs: &Tensor, state: &State, train: bool) -> (Tensor, State) {
        let x = Tensor::embedding(&self.emb, xs, -1, false, false).dropout(self.cfg.dropout, train);
        let (out, state) = self.lstm.seq_init(&x, state);
        let out = out.dropout(self.cfg.dropout, train);
        let w = self.dense.as_ref().unwrap_or(&self.emb);
        (out.matmul(&w.tr()) + &self.dense_bias, state)
    }

    /// Parameters by name, sorted (a stable order for the optimizer and checkpoints).
    pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Number of parameters.
    pub fn parameter_count(&self) -> i64 {
        self.named_parameters()
            .iter()
            .map(|(_, t)| t.numel() as i64)
            .sum()
    }
}

/// Mean cross-entropy (ignoring targets of -100) and the number of correct argmax predictions and of targets.
pub fn loss_and_accuracy(logits: &Tensor, targets: &Tensor) -> (Tensor, i64, i64) {
    let v = logits.size().last().copied().unwrap_or(1);
    let flat = logits.reshape([-1, v]);
    let t = targets.reshape([-1]);
    let loss = flat.cross_entropy_loss::<Tensor>(&t, None, tch::Reduction::Mean, -100, 0.0);
    let mask = t.ne(-100);
    let correct = flat
        .argmax(-1, false)
        .eq_tensor(&t)
        .logical_and(&mask)
        .sum(Kind::Int64)
        .int64_value(&[]);
    (loss, correct, mask.sum(Kind::Int64).int64_value(&[]))
}
