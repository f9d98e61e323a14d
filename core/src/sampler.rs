//! Choosing the next token from a stream of logits, without a vocabulary-sized buffer.
//!
//! The dense layer hands logits over one row at a time ([`Selector::push`]); greedy keeps one candidate, top-k
//! keeps `k`, and plain temperature sampling is exact weighted reservoir sampling with a running maximum
//! (Chao's algorithm: item `i` replaces the pick with probability `w_i / Σ_{j≤i} w_j`, so the final pick has
//! probability `w_i / Σ w_j`, `w_i = exp(l_i / T)`; the running max keeps `exp` in range). Every step is a pure
//! function of the logits, the config and the [`Rng`] state.

use crate::error::Error;
use crate::rng::Rng;

/// Most recent tokens the repetition penalty can look back over.
pub const MAX_PENALTY_WINDOW: usize = 64;
/// Candidates top-p sampling considers when `top_k` is 0 (the same on every platform, so the text is too).
pub const TOP_P_CANDIDATES: usize = 64;

/// Sampling settings. The default is greedy (argmax), as in the seed notebook.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplerConfig {
    /// Softmax temperature; `0` means greedy.
    pub temperature: f32,
    /// Keep only the `k` most likely tokens; `0` means off (unless `top_p < 1`, which needs candidates: then
    /// [`TOP_P_CANDIDATES`]).
    pub top_k: u32,
    /// Nucleus sampling within the top-k candidates: keep the smallest prefix whose probability reaches `top_p`.
    /// `1` means off.
    pub top_p: f32,
    /// Divide positive (multiply negative) logits of recently seen tokens by this; `1` means off.
    pub repetition_penalty: f32,
    /// How many recent tokens the penalty looks at (at most [`MAX_PENALTY_WINDOW`]).
    pub penalty_window: u16,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self::GREEDY
    }
}

impl SamplerConfig {
    /// Argmax, no penalty.
    pub const GREEDY: Self = Self {
        temperature: 0.0,
        top_k: 0,
        top_p: 1.0,
        repetition_penalty: 1.0,
        penalty_window: 0,
    };

    /// Checks every setting against a selector capacity `k_cap`.
    pub fn validate(&self, k_cap: usize) -> Result<(), Error> {
        let bad = |name| Err(Error::BadSamplingConfig { name });
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad("temperature");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p");
        }
        if !(self.repetition_penalty >= 1.0 && self.repetition_penalty.is_finite()) {
            return bad("repetition_penalty");
        }
        if usize::from(self.penalty_window) > MAX_PENALTY_WINDOW {
            return Err(Error::CapacityTooSmall {
                what: "window",
                needed: usize::from(self.penalty_window),
                capacity: MAX_PENALTY_WINDOW,
            });
        }
        let k = self.effective_k();
        if k > k_cap {
            return Err(Error::CapacityTooSmall {
                what: "top_k",
                needed: k,
                capacity: k_cap,
            });
        }
        Ok(())
    }

    fn effective_k(&self) -> usize {
        match (self.top_k, self.top_p < 1.0) {
            (0, true) => TOP_P_CANDIDATES,
            (k, _) => k as usize,
        }
    }
}

/// The recent-token window of the repetition penalty, with a 64-bit filter so most rows skip the scan.
#[derive(Clone, Debug, Default)]
pub struct Penalty {
    recent: heapless::Deque<u32, MAX_PENALTY_WINDOW>,
    filter: u64,
}

impl Penalty {
    /// Remembers `id`, forgetting the oldest beyond `window`.
    pub fn record(&mut self, id: u32, window: usize) {
        if window == 0 {
            return;
        }
        while self.recent.len() >= window {
            self.recent.pop_front();
        }
        // Cannot fail: len < window <= capacity.
        let _ = self.recent.push_back(id);
        self.filter = self.recent.iter().fold(0, |f, &t| f | (1u64 << (t % 64)));
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.recent.clear();
        self.filter = 0;
    }

    /// `logit` after the penalty (CTRL-style: divide if positive, multiply if negative).
    #[inline(always)]
    pub fn apply(&self, id: u32, logit: f32, penalty: f32) -> f32 {
        if self.filter & (1u64 << (id % 64)) == 0 || !self.recent.iter().any(|&t| t == id) {
            return logit;
        }
        if logit > 0.0 {
            logit / penalty
        } else {
            logit * penalty
        }
    }
}

/// Streaming token selection with up to `K` top-k candidates.
#[derive(Clone, Debug)]
pub struct Selector<const K: usize> {
    config: SamplerConfig,
    k: usize,
    inv_t: f32,
    /// Greedy / reservoir pick: (logit, id).
    best: (f32, u32),
    /// Reservoir: running max of `logit / T` and `Σ exp(logit / T - max)`.
    max: f32,
    sum: f32,
    /// Top-k candidates (unordered while streaming) and the index of the smallest.
    top: heapless::Vec<(f32, u32), K>,
    min_at: usize,
}

impl<const K: usize> Selector<K> {
    /// A selector for `config` (validated against `K`).
    pub fn new(config: SamplerConfig) -> Result<Self, Error> {
        config.validate(K)?;
        let inv_t = if config.temperature > 0.0 {
            1.0 / config.temperature
        } else {
            0.0
        };
        Ok(Self {
            config,
            k: config.effective_k(),
            inv_t,
            best: (f32::NEG_INFINITY, 0),
            max: f32::NEG_INFINITY,
            sum: 0.0,
            top: heapless::Vec::new(),
            min_at: 0,
        })
    }

    /// The settings.
    pub fn config(&self) -> &SamplerConfig {
        &self.config
    }

    /// Starts a new token.
    #[inline]
    pub fn begin(&mut self) {
        self.best = (f32::NEG_INFINITY, 0);
        self.max = f32::NEG_INFINITY;
        self.sum = 0.0;
        self.top.clear();
        self.min_at = 0;
    }

    /// Offers token `id` with `logit`. Rows must come in increasing id order (ties go to the lower id).
    #[inline(always)]
    pub fn push(&mut self, id: u32, logit: f32, rng: &mut Rng) {
        if self.k > 0 {
            self.push_top(id, logit);
        } else if self.inv_t == 0.0 {
            if logit > self.best.0 {
                self.best = (logit, id);
            }
        } else {
            let z = logit * self.inv_t;
            let w = if z > self.max {
                self.sum *= libm::expf(self.max - z);
                self.max = z;
                1.0
            } else {
                libm::expf(z - self.max)
            };
            self.sum += w;
            if rng.next_f32() * self.sum < w {
                self.best = (logit, id);
            }
        }
    }

    #[inline(always)]
    fn push_top(&mut self, id: u32, logit: f32) {
        if self.top.len() < self.k {
            let _ = self.top.push((logit, id)); // cannot fail: len < k <= K
            if self.top.len() == self.k {
                self.find_min();
            }
            return;
        }
        let min = self.top.get(self.min_at).map_or(f32::INFINITY, |m| m.0);
        if logit > min {
            if let Some(slot) = self.top.get_mut(self.min_at) {
                *slot = (logit, id);
            }
            self.find_min();
        }
    }

    fn find_min(&mut self) {
        // Among equal logits the higher id is evicted first, so ties keep the lower id.
        let mut at = 0;
        for (i, c) in self.top.iter().enumerate() {
            if let Some(m) = self.top.get(at) {
                if c.0 < m.0 || (c.0 == m.0 && c.1 > m.1) {
                    at = i;
                }
            }
        }
        self.min_at = at;
    }

    /// The chosen token once every row was pushed.
    pub fn finish(&mut self, rng: &mut Rng) -> u32 {
        if self.k == 0 {
            return self.best.1;
        }
        // Descending by logit, ascending id on ties; insertion sort, k is small.
        let top = &mut self.top;
        for i in 1..top.len() {
            let mut j = i;
            while j > 0 {
                let (Some(a), Some(b)) = (top.get(j - 1).copied(), top.get(j).copied()) else {
                    break;
                };
                if b.0 > a.0 || (b.0 == a.0 && b.1 < a.1) {
                    top.swap(j - 1, j);
                    j -= 1;
                } else {
                    break;
                }
            }
        }
        let Some(&(l0, first)) = top.first() else {
            return 0;
        };
        if self.inv_t == 0.0 {
            return first;
        }
        let weight = |l: f32| libm::expf((l - l0) * self.inv_t);
        let total: f32 = top.iter().map(|c| weight(c.0)).sum();
        // Nucleus: the shortest prefix whose probability reaches top_p.
        let (mut kept, mut mass) = (0usize, 0.0f32);
        for c in top.iter() {
            mass += weight(c.0);
            kept += 1;
            if mass >= self.config.top_p * total {
                break;
            }
        }
        let mut u = rng.next_f32() * mass;
        for c in top.iter().take(kept) {
            u -= weight(c.0);
            if u < 0.0 {
                return c.1;
            }
        }
        top.get(kept.saturating_sub(1)).map_or(first, |c| c.1)
    }
}
