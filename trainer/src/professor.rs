//! Professor Forcing (Lamb et al., NeurIPS 2016): a discriminator learns to tell the generator's teacher-forced
//! behaviour from its free-running behaviour, and the generator learns, beside its NLL, to make free-running
//! behaviour look teacher-forced (and, with `--pf-converse`, the converse).
//!
//! Behaviour is, per step, the recurrent output `h_t` (H values) and the output distribution projected to
//! [`DIST_FEATURES`] values by a learned linear map (the V-wide softmax itself would dwarf the rest). The
//! discriminator is a bidirectional GRU over that sequence, its outputs averaged over time, then a two-layer MLP
//! to one logit ("teacher-forced"). Its gradient reaches the generator only while its accuracy on the batch lies
//! in `[GATE_LOW, GATE_HIGH]`, as in the paper. It is training-only: the exported model never contains it, and
//! checkpoints carry its weights and Adam moments (names `disc.*`) so `--resume` stays exact.

use tch::nn::{self, Module, RNN};
use tch::{Device, Kind, Reduction, Tensor};

use crate::adam::Adam;
use crate::forcing::sample_rows;
use crate::net::{Net, State};

/// Output-distribution features per step fed to the discriminator.
pub const DIST_FEATURES: i64 = 32;
/// Below this discriminator accuracy its gradient does not reach the generator (it cannot tell yet).
pub const GATE_LOW: f64 = 0.75;
/// Above this it does not either (it wins too easily to say anything useful).
pub const GATE_HIGH: f64 = 0.99;

/// Whether the discriminator's gradient reaches the generator at `accuracy`.
///
/// ```
/// use quill_trainer::professor::gate;
/// assert!(!gate(0.5) && gate(0.75) && gate(0.9) && gate(0.99) && !gate(0.995));
/// ```
pub fn gate(accuracy: f64) -> bool {
    (GATE_LOW..=GATE_HIGH).contains(&accuracy)
}

/// The discriminator and its optimizer.
pub struct Professor {
    vs: nn::VarStore,
    proj: nn::Linear,
    rnn: nn::GRU,
    mlp1: nn::Linear,
    mlp2: nn::Linear,
    /// Its Adam state.
    pub adam: Adam,
}

/// One batch's discriminator numbers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Judged {
    /// Accuracy on the batch's teacher-forced and free-running sequences, before its update.
    pub accuracy: f64,
    /// Whether its gradient reached the generator.
    pub gated_in: bool,
}

impl Professor {
    /// A discriminator for a generator of `vocab` outputs and `hidden` units, `width` hidden units of its own
    /// (libtorch's global RNG initializes it: seeded by the caller).
    pub fn new(vocab: i64, hidden: i64, width: i64, lr: f64, device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root() / "disc";
        let proj = nn::linear(&root / "proj", vocab, DIST_FEATURES, Default::default());
        let cfg = nn::RNNConfig {
            bidirectional: true,
            batch_first: true,
            ..Default::default()
        };
        let rnn = nn::gru(&root / "rnn", hidden + DIST_FEATURES, width, cfg);
        let mlp1 = nn::linear(&root / "mlp1", 2 * width, width, Default::default());
        let mlp2 = nn::linear(&root / "mlp2", width, 1, Default::default());
        let adam = Adam::new(&Self::params_of(&vs), lr);
        Self {
            vs,
            proj,
            rnn,
            mlp1,
            mlp2,
            adam,
        }
    }

    fn params_of(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Parameters by name, sorted (`disc.rnn.weight_ih_l0`, ...).
    pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Self::params_of(&self.vs)
    }

    /// One logit per sequence of `behaviour` (B, L, H + V): its hidden part and its distribution, projected.
    fn logit(&self, hidden: &Tensor, dist: &Tensor) -> Tensor {
        let x = Tensor::cat(&[hidden.shallow_clone(), self.proj.forward(dist)], 2);
        let b = x.size()[0];
        let (out, _) = self.rnn.seq_init(&x, &self.rnn.zero_state(b));
        let pooled = out.mean_dim(1, false, Kind::Float);
        self.mlp2
            .forward(&self.mlp1.forward(&pooled).relu())
            .squeeze_dim(1)
    }

    /// The discriminator's step on one batch, then the generator's adversarial loss term (zero when the gate is
    /// shut): `tf_*` teacher-forced behaviour, `fr_*` free-running, each (hidden (B, L, H), dist (B, L, V)).
    pub fn judge(
        &mut self,
        tf: (&Tensor, &Tensor),
        fr: (&Tensor, &Tensor),
        converse: bool,
        clip: f64,
    ) -> (Tensor, Judged) {
        // The discriminator learns on detached behaviour.
        let (d_tf, d_fr) = (
            self.logit(&tf.0.detach(), &tf.1.detach()),
            self.logit(&fr.0.detach(), &fr.1.detach()),
        );
        let right = d_tf.gt(0.0).to_kind(Kind::Float).sum(Kind::Float)
            + d_fr.le(0.0).to_kind(Kind::Float).sum(Kind::Float);
        let accuracy = right.double_value(&[]) / (d_tf.size()[0] + d_fr.size()[0]) as f64;
        let loss_d = bce(&d_tf, 1.0) + bce(&d_fr, 0.0);
        let params = self.named_parameters();
        zero_grads(&params);
        loss_d.backward();
        Adam::clip_grad_norm(&params, clip);
        self.adam.step(&params);
        zero_grads(&params);
        let gated_in = gate(accuracy);
        let term = if gated_in {
            self.adversarial(tf, fr, converse)
        } else {
            Tensor::zeros([], (Kind::Float, tf.0.device()))
        };
        (term, Judged { accuracy, gated_in })
    }

    /// The generator's adversarial term: free-running behaviour should look teacher-forced (and, with
    /// `converse`, teacher-forced behaviour free-running). Its gradient flows into the behaviour (and from there
    /// into the generator), not used for the discriminator.
    pub fn adversarial(
        &self,
        tf: (&Tensor, &Tensor),
        fr: (&Tensor, &Tensor),
        converse: bool,
    ) -> Tensor {
        let mut t = bce(&self.logit(fr.0, fr.1), 1.0);
        if converse {
            #[allow(clippy::assign_op_pattern)]
            // reason: `+=` on a tch Tensor is in place; a new node keeps autograd plain
            {
                t = t + bce(&self.logit(tf.0, tf.1), 0.0);
            }
        }
        t
    }

    /// Clears the gradients the generator's backward pass left on the discriminator.
    pub fn clear(&self) {
        zero_grads(&self.named_parameters());
    }

    /// Weights and Adam state as named tensors for a checkpoint.
    pub fn to_named(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, (name, p)) in self.named_parameters().iter().enumerate() {
            out.push((name.clone(), p.to_device(Device::Cpu)));
            out.push((
                format!("adam_m.{name}"),
                self.adam.m[i].to_device(Device::Cpu),
            ));
            out.push((
                format!("adam_v.{name}"),
                self.adam.v[i].to_device(Device::Cpu),
            ));
        }
        out.push((
            "disc_adam_step".into(),
            Tensor::from_slice(&[self.adam.step]),
        ));
        out
    }

    /// Restores what [`to_named`](Self::to_named) saved; `None` if something is missing or misshapen.
    pub fn load_named(&mut self, named: &[(String, Tensor)]) -> Option<()> {
        let get = |n: &str| {
            named
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, t)| t.shallow_clone())
        };
        tch::no_grad(|| {
            for (i, (name, p)) in self.named_parameters().iter().enumerate() {
                let src = get(name)?;
                if src.size() != p.size() {
                    return None;
                }
                p.shallow_clone().copy_(&src);
                self.adam.m[i].copy_(&get(&format!("adam_m.{name}"))?);
                self.adam.v[i].copy_(&get(&format!("adam_v.{name}"))?);
            }
            self.adam.step = get("disc_adam_step")?.int64_value(&[0]);
            Some(())
        })
    }
}

/// Mean binary cross-entropy of the discriminator's `logit`s against one `target` label (1 teacher-forced, 0 free).
fn bce(logit: &Tensor, target: f64) -> Tensor {
    logit.binary_cross_entropy_with_logits::<Tensor>(
        &logit.full_like(target),
        None,
        None,
        Reduction::Mean,
    )
}

fn zero_grads(params: &[(String, Tensor)]) {
    for (_, p) in params {
        let mut g = p.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
}

/// The generator running free for `len` steps from `state`, fed first `first` (B, 1) and then its own samples:
/// its recurrent outputs (B, len, H) and output distributions (B, len, V), with gradients (the sampled tokens
/// themselves carry none).
pub fn free_run(net: &Net, first: &Tensor, state: &State, len: i64) -> (Tensor, Tensor) {
    let (mut hs, mut ds) = (Vec::new(), Vec::new());
    let (mut token, mut st) = (first.shallow_clone(), crate::net::detach(state));
    for _ in 0..len {
        let (logits, out, next) = net.forward_with_hidden(&token, &st, true);
        let dist = logits.softmax(-1, Kind::Float);
        token = tch::no_grad(|| sample_rows(&logits.squeeze_dim(1))).unsqueeze(1);
        hs.push(out);
        ds.push(dist);
        st = next;
    }
    (Tensor::cat(&hs, 1), Tensor::cat(&ds, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On behaviour that differs plainly (hidden states around +0.5 against −0.5), the discriminator learns to
    /// tell them apart, and its gate then closes (it wins too easily).
    #[test]
    fn the_discriminator_learns_what_differs() {
        tch::manual_seed(1);
        let mut p = Professor::new(10, 6, 8, 0.01, Device::Cpu);
        let dist = Tensor::full([16, 5, 10], 0.1, (Kind::Float, Device::Cpu));
        let noise = || Tensor::randn([16, 5, 6], (Kind::Float, Device::Cpu)) * 0.3;
        let mut last = Judged::default();
        for _ in 0..60 {
            let (tf, fr) = (noise() + 0.5, noise() - 0.5);
            (_, last) = p.judge((&tf, &dist), (&fr, &dist), false, 1.0);
        }
        assert!(last.accuracy > 0.95, "accuracy {}", last.accuracy);
        assert_eq!(last.gated_in, gate(last.accuracy));
    }

    /// The adversarial term's gradient reaches the free-running behaviour (and with `converse` the
    /// teacher-forced one too), which is how it reaches the generator.
    #[test]
    fn the_adversarial_gradient_reaches_the_behaviour() {
        tch::manual_seed(2);
        let p = Professor::new(10, 6, 8, 0.01, Device::Cpu);
        let dist = Tensor::full([4, 5, 10], 0.1, (Kind::Float, Device::Cpu));
        for converse in [false, true] {
            let leaf =
                || Tensor::randn([4, 5, 6], (Kind::Float, Device::Cpu)).set_requires_grad(true);
            let (tf, fr) = (leaf(), leaf());
            p.adversarial((&tf, &dist), (&fr, &dist), converse)
                .backward();
            let moved = |t: &Tensor| {
                t.grad().defined() && t.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0
            };
            assert!(moved(&fr));
            assert_eq!(moved(&tf), converse);
        }
    }
}
