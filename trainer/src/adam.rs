//! Adam with its moments in plain tensors, so checkpoints hold the whole optimizer state and `--resume`
//! continues exactly as an uninterrupted run would.

use tch::Tensor;

/// Adam (Kingma & Ba) with bias correction, as `torch.optim.Adam` with `weight_decay = 0`.
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// Steps taken.
    pub step: i64,
    /// First moments, in parameter order.
    pub m: Vec<Tensor>,
    /// Second moments, in parameter order.
    pub v: Vec<Tensor>,
}

impl Adam {
    /// Zero moments for `params`.
    pub fn new(params: &[(String, Tensor)], lr: f64) -> Self {
        let zeros = || params.iter().map(|(_, p)| p.zeros_like()).collect();
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            m: zeros(),
            v: zeros(),
        }
    }

    /// Scales gradients so their global L2 norm is at most `max`; returns the norm before clipping.
    pub fn clip_grad_norm(params: &[(String, Tensor)], max: f64) -> f64 {
        tch::no_grad(|| {
            let grads: Vec<Tensor> = params
                .iter()
                .map(|(_, p)| p.grad())
                .filter(|g| g.defined())
                .collect();
            let norm = grads
                .iter()
                .map(|g| g.square().sum(tch::Kind::Float).double_value(&[]))
                .sum::<f64>()
                .sqrt();
            if max > 0.0 && norm > max {
                let scale = max / (norm + 1e-6);
                for mut g in grads {
                    g *= scale;
                }
            }
            norm
        })
    }

    /// One update from the current gradients; then clears them.
    pub fn step(&mut self, params: &[(String, Tensor)]) {
        self.step += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(self.step as i32);
        let c2 = 1.0 - b2.powi(self.step as i32);
        tch::no_grad(|| {
            for (((_, p), m), v) in params.iter().zip(&mut self.m).zip(&mut self.v) {
                let mut g = p.grad();
                if !g.defined() {
                    continue;
                }
                *m *= b1;
                *m += &g * (1.0 - b1);
                *v *= b2;
                *v += g.square() * (1.0 - b2);
                let denom = (&*v / c2).sqrt() + self.eps;
                let mut p = p.shallow_clone();
                p -= (&*m / c1) / denom * self.lr;
                let _ = g.zero_();
            }
        });
    }
}
