//! The libtorch model: Embedding(V, E) → LSTM or GRU (E, H) × layers → Dense(H, V), optionally tied.

use anyhow::Result;
use tch::nn::{self, Init, RNN};
use tch::{Device, Kind, Tensor};

use crate::settings::TrainSettings;

/// The recurrent cell (`--cell`).
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
pub enum Cell {
    /// `torch.nn.LSTM`: four gates and a cell state.
    #[default]
    Lstm,
    /// `torch.nn.GRU`: three gates, no cell state (a quarter fewer recurrent weights).
    Gru,
}

impl Cell {
    /// The model-file kind for this cell.
    pub fn kind(self) -> quill_core::ModelKind {
        match self {
            Self::Lstm => quill_core::ModelKind::Lstm,
            Self::Gru => quill_core::ModelKind::Gru,
        }
    }

    /// Prefix of the recurrent parameters' names (`lstm.weight_ih_l0`, `gru.bias_hh_l1`, ...).
    pub fn prefix(self) -> &'static str {
        self.kind().name()
    }
}

/// Model dimensions and regularization.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetConfig {
    /// Recurrent cell (checkpoints written before GRUs existed are LSTMs).
    #[serde(default)]
    pub cell: Cell,
    /// Vocabulary size V.
    pub vocab: i64,
    /// Embedding width E.
    pub embed: i64,
    /// Hidden width H.
    pub hidden: i64,
    /// Recurrent layers.
    pub layers: i64,
    /// Dropout on the embedding output and the recurrent output (training only).
    pub dropout: f64,
    /// Tie the dense weights to the embedding (needs E = H).
    pub tie: bool,
}

/// The recurrent layers, as libtorch runs them (cuDNN on a GPU).
enum Rnn {
    Lstm(nn::LSTM),
    Gru(nn::GRU),
}

/// The network and its parameters.
pub struct Net {
    /// Parameters: `emb.weight`, `{lstm,gru}.{weight,bias}_{ih,hh}_l{n}`, `dense.weight` (untied), `dense.bias`.
    pub vs: nn::VarStore,
    emb: Tensor,
    rnn: Rnn,
    dense: Option<Tensor>,
    dense_bias: Tensor,
    /// Dimensions.
    pub cfg: NetConfig,
}

/// Recurrent state: LSTM `(h, c)` or GRU `h`, each (layers, B, H).
pub enum State {
    /// LSTM hidden and cell state.
    Lstm(nn::LSTMState),
    /// GRU hidden state.
    Gru(nn::GRUState),
}

impl NetConfig {
    /// The network `settings` ask for, over a vocabulary of `vocab` tokens.
    pub fn from_settings(s: &TrainSettings, vocab: usize) -> Self {
        Self {
            cell: s.cell,
            vocab: vocab as i64,
            embed: s.embed,
            hidden: s.hidden,
            layers: s.layers,
            dropout: s.dropout,
            tie: s.tie,
        }
    }
}

/// The state cut off from the graph of the window that produced it (truncated BPTT).
pub fn detach(state: &State) -> State {
    match state {
        State::Lstm(nn::LSTMState((h, c))) => State::Lstm(nn::LSTMState((h.detach(), c.detach()))),
        State::Gru(nn::GRUState(h)) => State::Gru(nn::GRUState(h.detach())),
    }
}

impl Net {
    /// A freshly initialized network (uses libtorch's global RNG: call `tch::manual_seed` first). `cfg` comes from
    /// validated settings ([`TrainSettings::validate`]): a tied net has E = H.
    pub fn new(cfg: NetConfig, device: Device) -> Self {
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
        let path = &root / cfg.cell.prefix();
        let rnn = match cfg.cell {
            Cell::Lstm => Rnn::Lstm(nn::lstm(path, cfg.embed, cfg.hidden, rnn)),
            Cell::Gru => Rnn::Gru(nn::gru(path, cfg.embed, cfg.hidden, rnn)),
        };
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
        Self {
            vs,
            emb,
            rnn,
            dense,
            dense_bias,
            cfg,
        }
    }

    /// Zero state for a batch of `b` sequences.
    pub fn zero_state(&self, b: i64) -> State {
        match &self.rnn {
            Rnn::Lstm(l) => State::Lstm(l.zero_state(b)),
            Rnn::Gru(g) => State::Gru(g.zero_state(b)),
        }
    }

    /// Logits (B, T, V) for token ids `xs` (B, T) from `state`; also the final state.
    pub fn forward(&self, xs: &Tensor, state: &State, train: bool) -> (Tensor, State) {
        let (logits, _, state) = self.forward_with_hidden(xs, state, train);
        (logits, state)
    }

    /// [`forward`](Self::forward), also returning the recurrent outputs (B, T, H) the logits are made from
    /// (Professor Forcing's behaviour).
    pub fn forward_with_hidden(
        &self,
        xs: &Tensor,
        state: &State,
        train: bool,
    ) -> (Tensor, Tensor, State) {
        let x = Tensor::embedding(&self.emb, xs, -1, false, false).dropout(self.cfg.dropout, train);
        let (out, state) = match (&self.rnn, state) {
            (Rnn::Lstm(l), State::Lstm(s)) => {
                let (out, s) = l.seq_init(&x, s);
                (out, State::Lstm(s))
            }
            (Rnn::Gru(g), State::Gru(s)) => {
                let (out, s) = g.seq_init(&x, s);
                (out, State::Gru(s))
            }
            _ => {
                debug_assert!(
                    false,
                    "unreachable: states come from this net's zero_state or forward"
                );
                return self.forward_with_hidden(xs, &self.zero_state(xs.size()[0]), train);
            }
        };
        let out = out.dropout(self.cfg.dropout, train);
        let w = self.dense.as_ref().unwrap_or(&self.emb);
        // One fused addmm, as torch.nn.Linear.
        let logits = out.linear(w, Some(&self.dense_bias));
        (logits, out, state)
    }

    /// Logits (V) after feeding one `token` from `state`, and the next state: the step-by-step view that
    /// `generate --float` and the export-time perplexity use.
    pub fn step_logits(&self, state: &State, token: u32) -> Result<(Vec<f32>, State)> {
        tch::no_grad(|| {
            let xs = Tensor::from_slice(&[i64::from(token)])
                .reshape([1, 1])
                .to_device(self.vs.device());
            let (logits, next) = self.forward(&xs, state, false);
            let v = Vec::<f32>::try_from(logits.reshape([-1]).to_device(Device::Cpu))?;
            Ok((v, next))
        })
    }

    /// The dense bias (V): the logits of the zero state, where quill-core starts an empty prompt.
    pub fn dense_bias(&self) -> Result<Vec<f32>> {
        Ok(Vec::<f32>::try_from(
            self.dense_bias.to_device(Device::Cpu).to_kind(Kind::Float),
        )?)
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

/// Mean cross-entropy over the targets that are not -100, as a device scalar (the training loop adds these up on
/// the device and reads them back only now and then, so a step never waits for the host).
pub fn loss(logits: &Tensor, targets: &Tensor) -> Tensor {
    let v = logits.size().last().copied().unwrap_or(1);
    let t = targets.reshape([-1]);
    logits
        .reshape([-1, v])
        .cross_entropy_loss::<Tensor>(&t, None, tch::Reduction::Mean, -100, 0.0)
}

/// Number of targets whose logit is the largest (argmax = target), as a device scalar. One more pass over the
/// B·T·V logits: validation counts every batch, training samples one batch per hundredth of an epoch.
pub fn correct(logits: &Tensor, targets: &Tensor) -> Tensor {
    let v = logits.size().last().copied().unwrap_or(1);
    let t = targets.reshape([-1]);
    tch::no_grad(|| {
        logits
            .reshape([-1, v])
            .argmax(-1, false)
            .eq_tensor(&t)
            .sum(Kind::Int64)
    })
}
