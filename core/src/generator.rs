//! [`Generator`]: stateful text generation with fixed buffers, one LSTM step per token.

use core::fmt::{self, Write};

use crate::error::Error;
use crate::format::Unknown;
use crate::kernels::{
    dequantize, matvec_f32, matvec_i8, sigmoid, tanh, with_features, Kernel, QVec, BLOCK,
};
use crate::limits::PROMPT_BYTES;
use crate::model::Model;
use crate::rng::Rng;
use crate::sampler::{Penalty, SamplerConfig, Selector};
use crate::tensor::F32s;
use crate::text::{pieces, Detokenizer, NormBuf};

/// Which arithmetic runs the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// int8 weights × int8 activations, exact i32 sums (the deployment path).
    Int8,
    /// f32 activations × dequantized (or f32) weights: the reference the int8 path is measured against.
    Float,
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
/// * `D`: widest vector (≥ E and ≥ H), `L`: most LSTM layers, `K`: most top-k candidates.
///
/// Its size is `size_of::<Generator<D, L, K>>()`; construction fails with [`Error::CapacityTooSmall`] when the
/// model needs more.
#[derive(Clone, Debug)]
pub struct Generator<'m, const D: usize = 256, const L: usize = 1, const K: usize = 64> {
    model: &'m Model<'m>,
    precision: Precision,
    kernel: Kernel,
    /// Per layer: hidden state h (H values used).
    h: [[f32; D]; L],
    /// Per layer: cell state c (H values used).
    c: [[f32; D]; L],
    /// Gate pre-activations, flattened and gate-major: gate g in (i, f, g, o), unit j at `g * H + j` (the row
    /// order of `W_ih` and `W_hh`, so a block of rows adds into a contiguous run).
    gates: [[f32; D]; 4],
    /// Layer input, quantized (int8 path).
    xq: QVec<D>,
    /// Hidden state, quantized (int8 path).
    hq: QVec<D>,
    /// Layer input (float path).
    xf: [f32; D],
    selector: Selector<K>,
    penalty: Penalty,
    rng: Rng,
    seed: u64,
    detok: Detokenizer,
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
            h: [[0.0; D]; L],
            c: [[0.0; D]; L],
            gates: [[0.0; D]; 4],
            xq: QVec::default(),
            hq: QVec::default(),
            xf: [0.0; D],
            selector: Selector::new(config)?.ban(match model.tokenizer.unknown {
                Unknown::Map(unk) => Some(unk),
                Unknown::Skip => None,
            }),
            penalty: Penalty::default(),
            rng: Rng::new(seed),
            seed,
            detok: Detokenizer::new(&model.tokenizer),
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

    /// Clears the LSTM state, the penalty window and the detokenizer, and reseeds the RNG with the original seed:
    /// after `reset` the same calls give the same text.
    pub fn reset(&mut self) {
        self.h = [[0.0; D]; L];
        self.c = [[0.0; D]; L];
        self.penalty.clear();
        self.rng = Rng::new(self.seed);
        self.detok.reset();
    }

    /// Runs one LSTM step with `token` as input and remembers it for the repetition penalty (ids ≥ V are ignored).
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
            Precision::Int8 => self.xq.load_i8(emb.row_i8(t), emb.scale(t)),
            Precision::Float => {
                for (j, x) in self.xf.iter_mut().enumerate().take(emb.cols) {
                    *x = emb.get_f32(t, j);
                }
            }
        }
        for (l, layer) in m.layers.iter().enumerate() {
            let (Some(h), Some(c)) = (self.h.get_mut(l), self.c.get_mut(l)) else {
                break;
            };
            let gates = gates_of(&mut self.gates, hid);
            for (g, b) in gates.iter_mut().zip(layer.bias.iter_from(0)) {
                *g = b;
            }
            let (w_ih, w_hh) = (&layer.w_ih, &layer.w_hh);
            match self.precision {
                Precision::Int8 => {
                    let xq = &self.xq;
                    matvec_i8(
                        self.kernel,
                        w_ih,
                        xq,
                        #[inline(always)]
                        |first, sums| add_rows(gates, first, sums, &w_ih.scales, xq.scale),
                    );
                    self.hq.quantize(head(h, hid));
                    let hq = &self.hq;
                    matvec_i8(
                        self.kernel,
                        w_hh,
                        hq,
                        #[inline(always)]
                        |first, sums| add_rows(gates, first, sums, &w_hh.scales, hq.scale),
                    );
                }
                Precision::Float => {
                    let mut add = |first: usize, v: &[f32]| add_into(gates, first, v);
                    matvec_f32(w_ih, head(&self.xf, w_ih.cols), &mut add);
                    matvec_f32(w_hh, head(h, hid), &mut add);
                }
            }
            lstm_cell(gates, c, h, hid);
            match self.precision {
                Precision::Int8 => self.xq.quantize(head(h, hid)),
                Precision::Float => {
                    for (x, &v) in self.xf.iter_mut().zip(head(h, hid)) {
                        *x = v;
                    }
                }
            }
        }
        self.penalty
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
        let (h, hq) = (&self.h, &mut self.hq);
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
            h,
            hq,
            selector,
            penalty,
            rng,
            ..
        } = self;
        selector.begin();
        let p = selector.config().repetition_penalty;
        stream_logits(
            model,
            *precision,
            *kernel,
            h,
            hq,
            #[inline(always)]
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
    /// passed to `on_unknown`, and fed as `<unk>` or skipped, as the model says.
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
        let (mut primed, mut status) = (Primed::default(), Ok(()));
        pieces(spec.level, spec.profile, text, |piece| {
            if status.is_ok() {
                status = self.detok.write(piece.text, echo);
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

    /// Writes token `id` as text, continuing the spacing and capitalization of what was written before.
    pub fn write_token(&mut self, id: u32, out: &mut impl Write) -> fmt::Result {
        self.detok.write(self.model.vocab.token(id), out)
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
            // The hot spot: V rows of H int8 weights per token.
            matvec_i8(
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

#[inline(always)]
fn head(v: &[f32], n: usize) -> &[f32] {
    v.get(..n).unwrap_or(v)
}

/// The first `4 * hid` gate values, gate-major.
#[inline(always)]
fn gates_of<const D: usize>(gates: &mut [[f32; D]; 4], hid: usize) -> &mut [f32] {
    let flat = gates.as_flattened_mut();
    let n = (4 * hid).min(flat.len());
    flat.get_mut(..n).unwrap_or(&mut [])
}

/// `gates[first + i] += sums[i] · (scale[first + i] · sx)`: one block of an int8 gate product.
#[inline(always)]
fn add_rows(gates: &mut [f32], first: usize, sums: &[i32], scales: &F32s<'_>, sx: f32) {
    let mut v = [0f32; BLOCK];
    let v = v.get_mut(..sums.len()).unwrap_or(&mut []);
    dequantize(sums, scales, first, sx, None, v);
    add_into(gates, first, v);
}

/// `gates[first + i] += v[i]`.
#[inline(always)]
fn add_into(gates: &mut [f32], first: usize, v: &[f32]) {
    for (g, &v) in gates.get_mut(first..).unwrap_or(&mut []).iter_mut().zip(v) {
        *g += v;
    }
}

/// PyTorch's LSTM cell on gate-major pre-activations: `c = σ(f)·c + σ(i)·tanh(g)`, `h = σ(o)·tanh(c)`.
#[inline(always)]
fn lstm_cell<const D: usize>(gates: &[f32], c: &mut [f32; D], h: &mut [f32; D], hid: usize) {
    let (gi, rest) = gates.split_at(hid.min(gates.len()));
    let (gf, rest) = rest.split_at(hid.min(rest.len()));
    let (gg, go) = rest.split_at(hid.min(rest.len()));
    let cells = c.iter_mut().zip(h.iter_mut()).take(hid);
    for ((((c, h), &i), &f), (&g, &o)) in cells.zip(gi).zip(gf).zip(gg.iter().zip(go)) {
        *c = sigmoid(f) * *c + sigmoid(i) * tanh(g);
        *h = sigmoid(o) * tanh(*c);
    }
}
