//! Choosing the next token from a stream of logits, without a vocabulary-sized buffer.
//!
//! The dense layer hands logits over in blocks of rows ([`Selector::push_block`]); greedy keeps one candidate,
//! top-k keeps `k`, and plain temperature sampling is exact weighted reservoir sampling with a running maximum.
//!
//! The reservoir is Chao's (item `i` replaces the pick with probability `w_i / S_i`, `S_i = Σ_{j≤i} w_j`, so the
//! final pick has probability `w_i / Σ w_j`, `w_i = exp(l_i / T)`) with jumps: after a pick at sum `S`, the chance
//! that no item up to `j` replaces it is `S / S_j`, so one uniform `u` in `(0, 1]` says where the next pick is —
//! the first item whose running sum passes `S / u`. A block whose sum cannot pass that threshold is skipped whole,
//! and a token needs about `ln V` random numbers instead of `V`. Weights are relative to the running maximum of
//! `l / T` (a new maximum rescales the sum and the threshold alike), so `exp` stays in range.
//!
//! Every step is a pure function of the logits, the config and the [`Rng`] state, with a fixed order of
//! floating-point operations, so the choice is the same on every target.
//!
//! [`crate::Generator`] runs these for you; they are public for hosts that produce logits another way (the
//! trainer's libtorch `--float` path uses them, so its choices are the ones the board makes):
//!
//! * [`SamplerConfig`] — the settings (also re-exported at the crate root);
//! * [`Selector`] — streaming greedy / top-k / top-p / temperature choice over blocks of logits, with one token
//!   that is never chosen ([`Selector::ban`], the `<unk>` token by default in the generator);
//! * [`Penalty`] — the repetition-penalty window.

use crate::error::Error;
use crate::kernels::{exp, BLOCK};
use crate::limits::{MAX_PENALTY_WINDOW, TOP_P_CANDIDATES};
pub use crate::rng::Rng;

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

/// The recent-token window of the repetition penalty.
#[derive(Clone, Debug, Default)]
pub struct Penalty {
    recent: heapless::Deque<u32, MAX_PENALTY_WINDOW>,
    /// The distinct ids of `recent`, ascending: a block of rows finds its penalized ids by binary search.
    sorted: heapless::Vec<u32, MAX_PENALTY_WINDOW>,
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
        self.sorted.clear();
        for &t in self.recent.iter() {
            if let Err(at) = self.sorted.binary_search(&t) {
                // Cannot fail: at most MAX_PENALTY_WINDOW distinct ids.
                let _ = self.sorted.insert(at, t);
            }
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.recent.clear();
        self.sorted.clear();
    }

    /// `logit` after the penalty: changed only if `id` is in the window.
    #[inline]
    pub fn apply(&self, id: u32, logit: f32, penalty: f32) -> f32 {
        if self.sorted.binary_search(&id).is_ok() {
            penalize(logit, penalty)
        } else {
            logit
        }
    }

    /// Applies the penalty to the logits of ids `first..first + logits.len()` in place (nothing if `penalty` ≤ 1).
    ///
    /// ```
    /// let mut p = quill_core::sampler::Penalty::default();
    /// p.record(65, 8);
    /// let mut block = [2.0, -2.0, 2.0];
    /// p.apply_block(64, &mut block, 2.0);
    /// assert_eq!(block, [2.0, -4.0, 2.0]);
    /// ```
    #[inline(always)]
    pub fn apply_block(&self, first: u32, logits: &mut [f32], penalty: f32) {
        if penalty <= 1.0 {
            return;
        }
        let from = self.sorted.partition_point(|&t| t < first);
        for &t in self.sorted.get(from..).unwrap_or(&[]) {
            let Some(l) = logits.get_mut((t - first) as usize) else {
                break;
            };
            *l = penalize(*l, penalty);
        }
    }
}

/// CTRL-style repetition penalty: divide a positive logit by `penalty`, multiply a negative one.
#[inline(always)]
fn penalize(logit: f32, penalty: f32) -> f32 {
    if logit > 0.0 {
        logit / penalty
    } else {
        logit * penalty
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
    /// Reservoir: running max of `logit / T`, `Σ exp(logit / T - max)`, and the sum the next pick passes.
    max: f32,
    sum: f32,
    next: f32,
    /// Top-k candidates as [`rank_key`]s: the first `len` of these `2K` slots, unordered. Rows that beat `thr`
    /// are appended (without a branch per row); when the slots fill up the best `k` are selected and `thr`
    /// becomes the k-th best logit, so a token costs a comparison per row plus a few selections.
    cand: [[u64; K]; 2],
    len: usize,
    /// `-inf` until the first selection.
    thr: f32,
    /// A token that is never chosen (its row is left out of every block).
    banned: Option<u32>,
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
            next: 0.0,
            cand: [[0; K]; 2],
            len: 0,
            thr: f32::NEG_INFINITY,
            banned: None,
        })
    }

    /// Never chooses token `id` (`None`: every token may be chosen). Its row is left out of the blocks, so the
    /// others are chosen exactly as if the vocabulary lacked it.
    ///
    /// ```
    /// use quill_core::{sampler::{Rng, Selector}, SamplerConfig};
    /// let mut sel = Selector::<4>::new(SamplerConfig::GREEDY)?.ban(Some(1));
    /// let mut rng = Rng::new(0);
    /// sel.begin();
    /// sel.push_block(0, &[0.5, 9.0, 2.0], &mut rng);
    /// assert_eq!(sel.finish(&mut rng), 2);
    /// # Ok::<(), quill_core::Error>(())
    /// ```
    pub fn ban(mut self, id: Option<u32>) -> Self {
        self.banned = id;
        self
    }

    /// The token that is never chosen, if any.
    pub fn banned(&self) -> Option<u32> {
        self.banned
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
        self.next = 0.0;
        self.len = 0;
        self.thr = f32::NEG_INFINITY;
    }

    /// Offers token `id` with `logit`: the same as a one-row [`push_block`](Self::push_block).
    #[inline]
    pub fn push(&mut self, id: u32, logit: f32, rng: &mut Rng) {
        self.push_block(id, &[logit], rng);
    }

    /// Offers tokens `first..first + logits.len()`. Blocks must come in increasing id order (ties go to the lower
    /// id); longer slices are taken [`BLOCK`] rows at a time, so pushing all logits at once chooses exactly what
    /// the generator's blocks choose.
    #[inline(always)]
    pub fn push_block(&mut self, first: u32, logits: &[f32], rng: &mut Rng) {
        for (b, block) in logits.chunks(BLOCK).enumerate() {
            let first = first.wrapping_add((b * BLOCK) as u32);
            let at = self.banned.and_then(|id| id.checked_sub(first));
            match at.map(|i| i as usize).filter(|&i| i < block.len()) {
                // The banned row splits its block in two; one comparison per block otherwise.
                Some(i) => {
                    let (before, after) = block.split_at(i);
                    self.push_rows(first, before, rng);
                    let after = after.get(1..).unwrap_or(&[]);
                    self.push_rows(first.wrapping_add(i as u32 + 1), after, rng);
                }
                None => self.push_rows(first, block, rng),
            }
        }
    }

    /// One block of at most [`BLOCK`] rows, none of them banned.
    #[inline(always)]
    fn push_rows(&mut self, first: u32, block: &[f32], rng: &mut Rng) {
        if block.is_empty() {
            return;
        }
        if self.k > 0 {
            self.push_top_block(first, block);
        } else if self.inv_t == 0.0 {
            self.push_greedy_block(first, block);
        } else {
            self.push_reservoir_block(first, block, rng);
        }
    }

    #[inline(always)]
    fn push_greedy_block(&mut self, first: u32, block: &[f32]) {
        // Most blocks hold nothing above the best so far: a compare per row, no horizontal maximum.
        if !any_above(block, self.best.0) {
            return;
        }
        let max = block_max(block);
        if max > self.best.0 {
            let at = block.iter().position(|&l| l == max).unwrap_or(0);
            self.best = (max, first.wrapping_add(at as u32));
        }
    }

    #[inline(always)]
    fn push_top_block(&mut self, first: u32, block: &[f32]) {
        if !any_above(block, self.thr) {
            return;
        }
        for (c, chunk) in block.chunks(LANES).enumerate() {
            if !any_above(chunk, self.thr) {
                continue;
            }
            let first = first.wrapping_add((c * LANES) as u32);
            for (id, &l) in (first..).zip(chunk) {
                if self.len == 2 * K {
                    // Rare: the slots are full, keep the best k (k <= K, so this frees at least K slots).
                    self.select();
                }
                // Write every row, keep those above the threshold: no data-dependent branch to mispredict.
                if let Some(slot) = self.cand.as_flattened_mut().get_mut(self.len) {
                    *slot = rank_key(l, id);
                }
                self.len += usize::from(l > self.thr);
            }
        }
    }

    #[inline(always)]
    fn push_reservoir_block(&mut self, first: u32, block: &[f32], rng: &mut Rng) {
        let mut z = [0f32; BLOCK];
        let z = z.get_mut(..block.len()).unwrap_or(&mut []);
        for (z, &l) in z.iter_mut().zip(block) {
            *z = l * self.inv_t;
        }
        let zmax = block_max(z);
        if zmax > self.max {
            if self.max > f32::NEG_INFINITY {
                let c = exp(self.max - zmax);
                self.sum *= c;
                self.next *= c;
            }
            self.max = zmax;
        }
        for z in z.iter_mut() {
            *z = exp(*z - self.max);
        }
        let total = self.sum + block_sum(z);
        if total <= self.next {
            self.sum = total;
            return;
        }
        for (id, &w) in (first..).zip(z.iter()) {
            self.sum += w;
            if self.sum > self.next {
                self.best.1 = id;
                // u in (0, 1]: the pick survives to running sum S_j with probability sum / S_j.
                let u = ((rng.next_u32() >> 8) + 1) as f32 * (1.0 / 16_777_216.0);
                self.next = self.sum / u;
            }
        }
    }

    /// Keeps the best `k` candidates (unordered) and raises the threshold to the k-th best logit.
    fn select(&mut self) {
        let k = self.k;
        let live = self
            .cand
            .as_flattened_mut()
            .get_mut(..self.len)
            .unwrap_or(&mut []);
        if k == 0 || live.len() <= k {
            return;
        }
        live.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
        self.len = k;
        if let Some(&kth) = live.get(k - 1) {
            self.thr = from_rank_key(kth).0;
        }
    }

    /// The chosen token once every row was pushed.
    pub fn finish(&mut self, rng: &mut Rng) -> u32 {
        if self.k == 0 {
            return self.best.1;
        }
        self.select();
        let n = self.len.min(self.k);
        let keys = self.cand.as_flattened_mut().get_mut(..n).unwrap_or(&mut []);
        keys.sort_unstable_by(|a, b| b.cmp(a));
        let mut top = [(0f32, 0u32); K];
        for (t, &k) in top.iter_mut().zip(keys.iter()) {
            *t = from_rank_key(k);
        }
        let top = top.get(..n).unwrap_or(&[]);
        let Some(&(l0, first)) = top.first() else {
            return 0;
        };
        if self.inv_t == 0.0 {
            return first;
        }
        let mut weights = [0f32; K];
        for (w, c) in weights.iter_mut().zip(top.iter()) {
            *w = exp((c.0 - l0) * self.inv_t);
        }
        let weights = weights.get(..top.len()).unwrap_or(&[]);
        let total: f32 = weights.iter().sum();
        // Nucleus: the shortest prefix whose probability reaches top_p.
        let (mut kept, mut mass) = (0usize, 0.0f32);
        for &w in weights {
            mass += w;
            kept += 1;
            if mass >= self.config.top_p * total {
                break;
            }
        }
        let mut u = rng.next_f32() * mass;
        for (c, &w) in top.iter().zip(weights).take(kept) {
            u -= w;
            if u < 0.0 {
                return c.1;
            }
        }
        top.get(kept.saturating_sub(1)).map_or(first, |c| c.1)
    }
}

/// A candidate as one integer that orders like the ranking "higher logit, then lower id": the logit's bits
/// mapped to an order-preserving u32 (`-0.0` first made `+0.0`) above the complement of the id. Ids are unique,
/// so the order is strict and the chosen set and its order do not depend on how the selection moves things.
#[inline(always)]
fn rank_key(logit: f32, id: u32) -> u64 {
    let b = (logit + 0.0).to_bits();
    let o = if b >> 31 == 1 { !b } else { b | 0x8000_0000 };
    (u64::from(o) << 32) | u64::from(!id)
}

/// The (logit, id) of a [`rank_key`].
#[inline(always)]
fn from_rank_key(key: u64) -> (f32, u32) {
    let o = (key >> 32) as u32;
    let b = if o >> 31 == 1 { o & 0x7fff_ffff } else { !o };
    (f32::from_bits(b), !(key as u32))
}

/// Lanes of the block reductions: a fixed shape, so the result does not depend on how a target vectorizes.
const LANES: usize = 8;

/// Whether some value is above `t` (no early exit, so it is a vector compare and a mask test).
#[inline(always)]
fn any_above(v: &[f32], t: f32) -> bool {
    v.iter().fold(false, |a, &x| a | (x > t))
}

/// Folds `LANES` partial results pairwise (lane i with lane i + w, w = 4, 2, 1), then the leftovers in order.
#[inline(always)]
fn fold_lanes(mut m: [f32; LANES], rest: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            if let (Some(&a), Some(&b)) = (m.get(i), m.get(i + w)) {
                if let Some(d) = m.get_mut(i) {
                    *d = f(a, b);
                }
            }
        }
    }
    rest.iter().fold(m[0], |a, &x| f(a, x))
}

/// The largest value (`-inf` for an empty block).
#[inline(always)]
fn block_max(v: &[f32]) -> f32 {
    let (chunks, rest) = v.as_chunks::<LANES>();
    let mut m = [f32::NEG_INFINITY; LANES];
    for c in chunks {
        for (m, &x) in m.iter_mut().zip(c) {
            *m = if x > *m { x } else { *m };
        }
    }
    fold_lanes(m, rest, |a, b| if b > a { b } else { a })
}

/// The sum in a fixed order: `LANES` running sums over the whole chunks, folded pairwise, then the rest.
#[inline(always)]
fn block_sum(v: &[f32]) -> f32 {
    let (chunks, rest) = v.as_chunks::<LANES>();
    let mut s = [0f32; LANES];
    for c in chunks {
        for (s, &x) in s.iter_mut().zip(c) {
            *s += x;
        }
    }
    fold_lanes(s, rest, |a, b| a + b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_keys_order_like_the_ranking_and_round_trip() {
        let cands = [
            (3.5f32, 9u32),
            (3.5, 2),
            (-0.0, 4),
            (0.0, 5),
            (-1e-30, 1),
            (1e-30, 7),
            (-7.25, 0),
            (f32::MAX, 8),
            (f32::MIN, 3),
        ];
        for &a in &cands {
            let (l, id) = from_rank_key(rank_key(a.0, a.1));
            assert_eq!((l, id), (a.0 + 0.0, a.1));
            for &b in &cands {
                let better = a.0 > b.0 || (a.0 == b.0 && a.1 < b.1);
                assert_eq!(
                    rank_key(a.0, a.1) > rank_key(b.0, b.1),
                    better,
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    /// With fewer than `LANES` slots to spare, rows are taken one at a time and the result is the same.
    #[test]
    fn tiny_capacity_keeps_the_best() {
        let logits: Vec<f32> = (0..200u32).map(|i| ((i * 37) % 101) as f32).collect();
        let cfg = SamplerConfig {
            top_k: 3,
            ..SamplerConfig::GREEDY
        };
        let mut small = Selector::<3>::new(cfg).unwrap();
        let mut big = Selector::<64>::new(cfg).unwrap();
        let mut rng = Rng::new(0);
        small.push_block(0, &logits, &mut rng);
        big.push_block(0, &logits, &mut rng);
        small.select();
        big.select();
        let mut a: Vec<u64> = small.cand.as_flattened()[..small.len].to_vec();
        let mut b: Vec<u64> = big.cand.as_flattened()[..big.len].to_vec();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        assert_eq!(
            small.finish(&mut rng),
            30,
            "greedy within top-k is the argmax: 30 * 37 % 101 = 100"
        );
    }
}
