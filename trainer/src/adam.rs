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

    /// Scales gradients so their global L2 norm is at most `max` (0 = off), as `torch.nn.utils.clip_grad_norm_`:
    /// the norm and the factor `min(1, max / (norm + 1e-6))` stay on the device, so no step waits for the host.
    pub fn clip_grad_norm(params: &[(String, Tensor)], max: f64) {
        if max <= 0.0 {
            return;
        }
        tch::no_grad(|| {
            let grads: Vec<Tensor> = params
                .iter()
                .map(|(_, p)| p.grad())
                .filter(|g| g.defined())
                .collect();
            if grads.is_empty() {
                return;
            }
            let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
            let total = Tensor::stack(&norms, 0).norm();
            let coef = (total + 1e-6).reciprocal() * max;
            let coef = coef.clamp_max(1.0);
            for mut g in grads {
                g *= &coef;
            }
        })
    }

    /// One update from the current gradients, in place as `torch.optim.Adam`'s single-tensor path does
    /// (`m ← lerp(m, g, 1-β1)`, `v ← β2·v + (1-β2)·g²`, `p ← p - lr/c1 · m / (√v/√c2 + ε)`); then clears them.
    pub fn step(&mut self, params: &[(String, Tensor)]) {
        self.step += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(self.step as i32);
        let c2 = 1.0 - b2.powi(self.step as i32);
        let step_size = self.lr / c1;
        tch::no_grad(|| {
            for (((_, p), m), v) in params.iter().zip(&mut self.m).zip(&mut self.v) {
                let mut g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = m.lerp_(&g, 1.0 - b1);
                *v *= b2;
                let _ = v.addcmul_(&g, &(&g * (1.0 - b2)));
                // denom = (√v / √c2 + ε) · (-1 / step_size), so that p += m / denom is the update.
                let mut denom = v.sqrt();
                denom *= -1.0 / (step_size * c2.sqrt());
                denom += -self.eps / step_size;
                let _ = p.shallow_clone().addcdiv_(m, &denom);
                let _ = g.zero_();
            }
        });
    }
}
