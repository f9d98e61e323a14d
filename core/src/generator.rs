//! [`Generator`]: stateful text generation with fixed buffers, one recurrent step (LSTM or GRU) per token.

use core::fmt::{self, Write};

use crate::cell::{gru, head, lstm, Io};
use crate::error::Error;
use crate::format::{DType, Level, ModelKind, Unknown};
use crate::kernels::{dequantize, matvec_f32, matvec_int, with_features, Kernel, QVec, BLOCK};
use crate::limits::PROMPT_BYTES;
use crate::model::Model;
use crate::rng::Rng;
use crate::sampler::{Penalty, SamplerConfig, Selector};
use crate::text::{bpe, pieces, Detokenizer, NormBuf};

pub use crate::cell::Precision;

/// Where a generator stands in a text: the recurrent state of every layer, the repetition-penalty window and
/// the detokenizer's spacing and capitalization. Everything but the model, the sampler settings and the RNG.
///
/// A plain value (no allocation, `Clone`): prime a long prompt once, keep [`Generator::state`], and
/// [`Generator::restore`] it before each continuation.
#[derive(Clone, Debug)]
pub struct State<const D: usize, const L: usize> {
    /// Per layer: hidden state h (H values used).
    h: [[f32; D]; L],
    /// Per layer: LSTM cell state c (H values used; the GRU has none and leaves it zero).
    c: [[f32; D]; L],
    penalty: Penalty,
    detok: Detokenizer,
}

impl<const D: usize, const L: usize> State<D, L> {
    fn new(detok: Detokenizer) -> Self {
        Self {
            h: [[0.0; D]; L],
            c: [[0.0; D]; L],
            penalty: Penalty::default(),
            detok,
        }
    }

    /// Layer `l`'s hidden state (its first H values are the model's; empty past the last layer).
    pub fn hidden(&self, l: usize) -> &[f32] {
        self.h.get(l).map_or(&[], |h| &h[..])
    }
}

/// What [`Generator::prime`] did with a prompt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Primed {
    /// Tokens fed to the model.
    pub tokens: usize,
    /// Words not in the vocabulary (mapped to `<unk>` or skipped, as the model says).
    pub unknown: usize,
}

/// A text generator over a borrowed [`Model`], with all state in fixed buffers.
///
/// * `D`: widest vector (≥ E and ≥ H), `L`: most recurrent layers, `K`: most top-k candidates.
///
/// Its size is `size_of::<Generator<D, L, K>>()`; construction fails with [`Error::CapacityTooSmall`] when the
/// model needs more.
#[derive(Clone, Debug)]
pub struct Generator<'m, const D: usize = 256, const L: usize = 1, const K: usize = 64> {
    model: &'m Model<'m>,
    precision: Precision,
    kernel: Kernel,
    state: State<D, L>,
    /// Gate pre-activations, flattened and gate-major (see `cell/mod.rs`): 4H values used.
    gates: [[f32; D]; 4],
    /// Layer input, quantized (int8 path).
    xq: QVec<D>,
    /// Hidden state, quantized (int8 path).
    hq: QVec<D>,
    /// Layer input (float path).
    xf: [f32; D],
    selector: Selector<K>,
    rng: Rng,
    seed: u64,
}

impl<'m, const D: usize, const L: usize, const K: usize> Generator<'m, D, L, K> {
    /// A generator for an int8 `model` with the fastest integer kernel of this CPU.
    pub fn new(model: &'m Model<'m>, config: SamplerConfig, seed: u64) -> Result<Self, Error> {
        Self::build(model, config, seed, Precision::Int8)
    }

    /// A generator on the float reference path (int8 models are dequantized on the fly; f32 models run as stored).
    pub fn new_float(
        model: &'m Model<'m>,
        config: SamplerConfig,
        seed: u64,
    ) -> Result<Self, Error> {
        Self::build(model, config, seed, Precision::Float)
    }

    fn build(
        model: &'m Model<'m>,
        config: SamplerConfig,
        seed: u64,
        precision: Precision,
    ) -> Result<Self, Error> {
        let hy = model.hyper;
        for (what, needed, capacity) in [
            ("hidden", hy.hidden as usize, D),
            ("embed", hy.embed as usize, D),
            ("layers", hy.layers as usize, L),
        ] {
            if needed > capacity {
                return Err(Error::CapacityTooSmall {
                    what,
                    needed,
                    capacity,
                });
            }
        }
        if precision == Precision::Int8 && !model.is_quantized() {
            return Err(Error::NotQuantized);
        }
        Ok(Self {
            model,
            precision,
            kernel: Kernel::detect(),
            state: State::new(Detokenizer::new(&model.tokenizer)),
            gates: [[0.0; D]; 4],
            xq: QVec::default(),
            hq: QVec::default(),
            xf: [0.0; D],
            selector: Selector::new(config)?.ban(match model.tokenizer.unknown {
                Unknown::Map(unk) => Some(unk),
                Unknown::Skip => None,
            }),
            rng: Rng::new(seed),
            seed,
        })
    }

    /// Forces an integer kernel (tests compare every kernel against `Scalar`); an unsupported one becomes `Scalar`.
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = if kernel.is_supported() {
            kernel
        } else {
            Kernel::Scalar
        };
        self
    }

    /// Whether the unknown-word token (`<unk>`) may be generated. By default it never is: it stands for words the
    /// vocabulary lacks, and printing it helps nobody. Models without one are unaffected.
    ///
    /// ```
    /// use quill_core::{Generator, Model, SamplerConfig};
    /// let bytes = quill_core::testing::tiny_model_bytes(); // has `<unk>` as token 0
    /// let model = Model::from_bytes(&bytes)?;
    /// let mut gen: Generator<64, 1, 8> = Generator::new(&model, SamplerConfig::GREEDY, 0)?;
    /// assert!(gen.by_ref().take(200).all(|id| id != 0));
    /// let gen = gen.allow_unknown(true);
    /// assert_eq!(gen.banned(), None);
    /// # Ok::<(), quill_core::Error>(())
    /// ```
    pub fn allow_unknown(mut self, allow: bool) -> Self {
        let unk = match self.model.tokenizer.unknown {
            Unknown::Map(unk) if !allow => Some(unk),
            _ => None,
        };
        self.selector = self.selector.ban(unk);
        self
    }

    /// The token that is never generated (`<unk>` unless [`allow_unknown`](Self::allow_unknown)), if any.
    pub fn banned(&self) -> Option<u32> {
        self.selector.banned()
    }

    /// The sampler settings in use.
    pub fn config(&self) -> &SamplerConfig {
        self.selector.config()
    }

    /// Changes the sampler settings from the next token on, keeping the state, the RNG and the banned token (a
    /// board's `:temp 0.8` between two prompts); settings this generator cannot run are refused and the old ones
    /// kept.
    ///
    /// ```
    /// use quill_core::{Error, Generator, Model, SamplerConfig};
    /// let bytes = quill_core::testing::tiny_model_bytes();
    /// let model = Model::from_bytes(&bytes)?;
    /// let mut gen: Generator<64, 1, 8> = Generator::new(&model, SamplerConfig::GREEDY, 1)?;
    /// let warm = SamplerConfig { temperature: 0.8, top_k: 4, ..SamplerConfig::GREEDY };
    /// gen.set_config(warm)?;
    /// assert_eq!(gen.config().top_k, 4);
    /// // K = 8 candidates at most: top-k 40 is refused, top-k 4 stays.
    /// let wide = SamplerConfig { top_k: 40, ..warm };
    /// assert!(matches!(gen.set_config(wide), Err(Error::CapacityTooSmall { .. })));
    /// assert_eq!(gen.config().top_k, 4);
    /// # Ok::<(), quill_core::Error>(())
    /// ```
    pub fn set_config(&mut self, config: SamplerConfig) -> Result<(), Error> {
        let banned = self.selector.banned();
        self.selector = Selector::new(config)?.ban(banned);
        Ok(())
    }

    /// The integer kernel in use.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The arithmetic in use.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The model.
    pub fn model(&self) -> &'m Model<'m> {
        self.model
    }

    /// Clears the recurrent state, the penalty window and the detokenizer, and reseeds the RNG with the original
    /// seed: after `reset` the same calls give the same text.
    pub fn reset(&mut self) {
        self.state = State::new(Detokenizer::new(&self.model.tokenizer));
        self.rng = Rng::new(self.seed);
    }

    /// Where the generator stands (see [`State`]): clone it to come back to this point later.
    ///
    /// ```
    /// use quill_core::{Generator, Model, SamplerConfig};
    /// let bytes = quill_core::testing::tiny_model_bytes();
    /// let model = Model::from_bytes(&bytes)?;
    /// let config = SamplerConfig { temperature: 1.0, ..SamplerConfig::GREEDY };
    /// let mut gen: Generator<64, 1, 8> = Generator::new(&model, config, 1)?;
    /// let mut prompt = String::new();
    /// gen.prime("The people", &mut prompt, |_| {})?;
    /// let primed = gen.state().clone(); // the long prompt is fed once
    /// let mut first = String::new();
    /// gen.generate(12, &mut first).unwrap();
    /// // Back to the same point with the same seed: the same continuation, token for token.
    /// gen.restore(&primed);
    /// gen.reseed(1);
    /// let mut again = String::new();
    /// gen.generate(12, &mut again).unwrap();
    /// assert_eq!(first, again);
    /// // Another seed from the same point: another continuation.
    /// gen.restore(&primed);
    /// gen.reseed(2);
    /// let mut other = String::new();
    /// gen.generate(12, &mut other).unwrap();
    /// assert_ne!(first, other);
    /// # Ok::<(), quill_core::Error>(())
    /// ```
    pub fn state(&self) -> &State<D, L> {
        &self.state
    }

    /// Returns to a point saved with [`state`](Self::state) (the RNG is left as it is: see [`reseed`](Self::reseed)).
    pub fn restore(&mut self, state: &State<D, L>) {
        self.state.clone_from(state);
    }

    /// Restarts the RNG from `seed` (and makes it the seed [`reset`](Self::reset) returns to).
    pub fn reseed(&mut self, seed: u64) {
        self.seed = seed;
        self.rng = Rng::new(seed);
    }

    /// Runs one recurrent step with `token` as input and remembers it for the repetition penalty (ids ≥ V are ignored).
    pub fn feed(&mut self, token: u32) {
        with_features(
            self.kernel,
            #[inline(always)]
            || self.feed_step(token),
        )
    }

    // Inlined into the `with_features` wrappers so it compiles for the detected SIMD level (x86 only).
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    fn feed_step(&mut self, token: u32) {
        let m = self.model;
        if token >= m.hyper.vocab {
            return;
        }
        let (hid, emb, t) = (m.hyper.hidden as usize, &m.embedding, token as usize);
        match self.precision {
            Precision::Int8 if emb.dtype == DType::I4GroupScaled => {
                // An int4 row, dequantized and requantized per vector as every other layer input is.
                emb.row_f32(t, &mut self.xf);
                self.xq.quantize(head(&self.xf, emb.cols));
            }
            Precision::Int8 => self.xq.load_i8(emb.row_i8(t), emb.scale(t)),
            Precision::Float => emb.row_f32(t, &mut self.xf),
        }
        let Self {
            kernel,
            precision,
            state,
            gates,
            xq,
            hq,
            xf,
            ..
        } = self;
        let mut io = Io {
            kernel: *kernel,
            precision: *precision,
            xq,
            xf,
            hq,
        };
        let n = (4 * hid).min(4 * D);
        let gates = gates.as_flattened_mut().get_mut(..n).unwrap_or(&mut []);
        let cells = state.h.iter_mut().zip(state.c.iter_mut());
        for (layer, (h, c)) in m.layers.iter().zip(cells) {
            match m.kind {
                ModelKind::Lstm => lstm::step(&mut io, layer, gates, h, c, hid),
                ModelKind::Gru => gru::step(&mut io, layer, gates, h, hid),
            }
        }
        self.state
            .penalty
            .record(token, usize::from(self.selector.config().penalty_window));
    }

    /// Writes the next token's logits (before any penalty or temperature) into `out[..V]`.
    pub fn logits(&mut self, out: &mut [f32]) -> Result<(), Error> {
        let v = self.model.hyper.vocab as usize;
        if out.len() < v {
            return Err(Error::CapacityTooSmall {
                what: "output",
                needed: v,
                capacity: out.len(),
            });
        }
        let (model, precision, kernel) = (self.model, self.precision, self.kernel);
        let (h, hq) = (&self.state.h, &mut self.hq);
        with_features(
            kernel,
            #[inline(always)]
            || {
                stream_logits(model, precision, kernel, h, hq, |first, block| {
                    let run = out.get_mut(first as usize..).unwrap_or(&mut []);
                    for (o, &l) in run.iter_mut().zip(block.iter()) {
                        *o = l;
                    }
                })
            },
        );
        Ok(())
    }

    /// Chooses the next token from the current state, feeds it, and returns it.
    pub fn next_token(&mut self) -> u32 {
        with_features(
            self.kernel,
            #[inline(always)]
            || self.next_step(),
        )
    }

    // Inlined into the `with_features` wrappers so it compiles for the detected SIMD level (x86 only).
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    fn next_step(&mut self) -> u32 {
        let Self {
            model,
            precision,
            kernel,
            state,
            hq,
            selector,
            rng,
            ..
        } = self;
        let (h, penalty) = (&state.h, &mut state.penalty);
        selector.begin();
        let p = selector.config().repetition_penalty;
        stream_logits(
            model,
            *precision,
            *kernel,
            h,
            hq,
            // Inlined on x86 (vector loops at the detected SIMD level); on a board one copy serves the int8,
            // int4 and float paths, which keeps the firmware small.
            #[cfg_attr(target_arch = "x86_64", inline(always))]
            |first, block| {
                penalty.apply_block(first, block, p);
                selector.push_block(first, block, rng)
            },
        );
        let id = selector.finish(rng);
        self.feed_step(id);
        id
    }

    /// Normalizes and tokenizes `prompt` as the model was trained, feeds its tokens, and writes the normalized
    /// prompt to `echo` as the user typed it: a word the vocabulary lacks is echoed as itself (not as `<unk>`),
    /// passed to `on_unknown`, and fed as `<unk>` or skipped, as the model says. A BPE model has no unknown
    /// words: every prompt is encoded whole, byte-pair merges as the trainer made them.
    pub fn prime(
        &mut self,
        prompt: &str,
        echo: &mut impl Write,
        mut on_unknown: impl FnMut(&str),
    ) -> Result<Primed, Error> {
        let spec = self.model.tokenizer;
        let vocab = self.model.vocab;
        let mut buf = NormBuf::<PROMPT_BYTES>::new();
        let text = buf.normalize(spec.profile, prompt)?;
        if spec.level == Level::Bpe {
            return self.prime_bpe(text, echo);
        }
        let (mut primed, mut status) = (Primed::default(), Ok(()));
        pieces(spec.level, spec.profile, text, |piece| {
            if status.is_ok() {
                status = self.state.detok.write(piece.text, echo);
            }
            let id = match (vocab.lookup(piece.text), spec.unknown) {
                (Some(id), _) => id,
                (None, policy) => {
                    primed.unknown += 1;
                    on_unknown(piece.text);
                    match policy {
                        Unknown::Map(unk) => unk,
                        Unknown::Skip => return,
                    }
                }
            };
            self.feed(id);
            primed.tokens += 1;
        });
        status.map_err(|_| Error::WriteFailed)?;
        Ok(primed)
    }

    /// [`Self::prime`] for a BPE model: normalized `text` (at most [`PROMPT_BYTES`]) encoded by the model's
    /// merges, exactly as the trainer encodes text, and echoed as it is. Its own frame, so the token buffer
    /// (4 bytes per prompt byte) is on the stack only while a BPE prompt is primed.
    #[inline(never)]
    fn prime_bpe(&mut self, text: &str, echo: &mut impl Write) -> Result<Primed, Error> {
        let mut ids = [0u32; PROMPT_BYTES];
        let n = bpe::encode(text, self.model.vocab.merges(), &mut ids)?;
        for &id in ids.get(..n).unwrap_or(&[]) {
            self.feed(id);
        }
        self.state
            .detok
            .write(text, echo)
            .map_err(|_| Error::WriteFailed)?;
        Ok(Primed {
            tokens: n,
            unknown: 0,
        })
    }

    /// Writes token `id` as text, continuing the spacing and capitalization of what was written before (BPE:
    /// the characters its bytes complete; a character split across tokens is written with its last byte).
    pub fn write_token(&mut self, id: u32, out: &mut impl Write) -> fmt::Result {
        self.state
            .detok
            .write_bytes(self.model.vocab.token_bytes(id), out)
    }

    /// Generates `n` tokens and writes them as text.
    pub fn generate(&mut self, n: usize, out: &mut impl Write) -> fmt::Result {
        for _ in 0..n {
            let id = self.next_token();
            self.write_token(id, out)?;
        }
        Ok(())
    }
}

/// An endless stream of generated token ids: `gen.by_ref().take(20)`.
impl<const D: usize, const L: usize, const K: usize> Iterator for Generator<'_, D, L, K> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        Some(self.next_token())
    }
}

/// Streams the next token's logits from the last layer's `h`: `f(first, logits)` for blocks of ids in order.
#[cfg_attr(target_arch = "x86_64", inline(always))]
fn stream_logits<const D: usize, const L: usize>(
    m: &Model<'_>,
    precision: Precision,
    kernel: Kernel,
    h: &[[f32; D]; L],
    hq: &mut QVec<D>,
    mut f: impl FnMut(u32, &mut [f32]),
) {
    let hid = m.hyper.hidden as usize;
    let Some(h) = h.get(m.layers.len().saturating_sub(1)) else {
        return;
    };
    let (dense, bias) = (&m.dense, &m.dense_bias);
    let mut buf = [0f32; BLOCK];
    match precision {
        Precision::Int8 => {
            hq.quantize(head(h, hid));
            let sh = hq.scale;
            // The hot spot: V rows of H int8 (or int4) weights per token.
            matvec_int(
                kernel,
                dense,
                hq,
                #[inline(always)]
                |first, sums| {
                    let out = buf.get_mut(..sums.len()).unwrap_or(&mut []);
                    dequantize(sums, &dense.scales, first, sh, Some(bias), out);
                    f(first as u32, out);
                },
            );
        }
        Precision::Float => matvec_f32(dense, head(h, hid), |first, v| {
            let out = buf.get_mut(..v.len()).unwrap_or(&mut []);
            for ((o, &v), b) in out.iter_mut().zip(v).zip(bias.iter_from(first)) {
                *o = v + b;
            }
            f(first as u32, out);
        }),
    }
}
