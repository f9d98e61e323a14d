//! Checkpoint → quill-core model file (per-row symmetric int8, or f32 for reference).

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use quill_core::{
    DType, Generator, Hyper, Model, ModelBuilder, OwnedLayer, OwnedTensor, SamplerConfig, MAX_WIDTH,
};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::{atomic_write, Checkpoint};
use crate::net::Net;
use crate::train::step_logits;

/// One tensor's quantization error.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QuantError {
    /// Tensor name.
    pub name: String,
    /// Largest |w - dequantized| relative to the tensor's largest |w|.
    pub max_rel: f64,
    /// RMS error relative to the RMS of the weights.
    pub rms_rel: f64,
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(
        t.to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .reshape([-1]),
    )?)
}

fn quant_error(name: &str, w: &[f32], t: &OwnedTensor) -> QuantError {
    let d = t.to_f32();
    let max_w = w.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    let max_e = w
        .iter()
        .zip(&d)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs())) as f64;
    let rms = |v: &mut dyn Iterator<Item = f64>| {
        let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x * x, n + 1));
        (s / n.max(1) as f64).sqrt()
    };
    let rms_w = rms(&mut w.iter().map(|&x| f64::from(x)));
    let rms_e = rms(&mut w.iter().zip(&d).map(|(a, b)| f64::from(a - b)));
    QuantError {
        name: name.into(),
        max_rel: max_e / max_w.max(1e-12),
        rms_rel: rms_e / rms_w.max(1e-12),
    }
}

/// Builds the model file contents from a checkpoint.
pub fn build(ck: &Checkpoint, dtype: DType) -> Result<(ModelBuilder, Vec<QuantError>)> {
    let cfg = ck.net.cfg;
    for (name, v) in [("embed", cfg.embed), ("hidden", cfg.hidden)] {
        if v as u32 > MAX_WIDTH {
            bail!("--{name} {v} is larger than quill-core runs ({MAX_WIDTH})");
        }
    }
    if cfg.layers as usize > quill_core::format::MAX_LAYERS {
        bail!(
            "{} layers: quill-core runs at most {}",
            cfg.layers,
            quill_core::format::MAX_LAYERS
        );
    }
    let params: std::collections::HashMap<String, Tensor> =
        ck.net.named_parameters().into_iter().collect();
    let get = |n: &str| {
        params
            .get(n)
            .with_context(|| format!("checkpoint lacks {n}"))
            .and_then(values)
    };
    let (v, e, h) = (cfg.vocab as usize, cfg.embed as usize, cfg.hidden as usize);
    let mut errors = Vec::new();
    let mut tensor = |name: &str, w: &[f32], rows, cols| {
        let t = OwnedTensor::new(dtype, w, rows, cols);
        errors.push(quant_error(name, w, &t));
        t
    };
    let embedding = tensor("emb.weight", &get("emb.weight")?, v, e);
    let mut layers = Vec::new();
    for l in 0..cfg.layers as usize {
        let input = if l == 0 { e } else { h };
        let (b_ih, b_hh) = (
            get(&format!("lstm.bias_ih_l{l}"))?,
            get(&format!("lstm.bias_hh_l{l}"))?,
        );
        layers.push(OwnedLayer {
            w_ih: tensor(
                &format!("lstm.weight_ih_l{l}"),
                &get(&format!("lstm.weight_ih_l{l}"))?,
                4 * h,
                input,
            ),
            w_hh: tensor(
                &format!("lstm.weight_hh_l{l}"),
                &get(&format!("lstm.weight_hh_l{l}"))?,
                4 * h,
                h,
            ),
            bias: b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
        });
    }
    let dense = if cfg.tie {
        None
    } else {
        Some(tensor("dense.weight", &get("dense.weight")?, v, h))
    };
    let meta = serde_json::json!({
        "trainer": concat!("quill ", env!("CARGO_PKG_VERSION")),
        "corpus": ck.meta.settings.corpus,
        "epochs": ck.meta.epochs_done,
        "best_val": ck.meta.best_val,
        "context": ck.meta.settings.context,
        "seed": ck.meta.settings.seed,
    });
    let builder = ModelBuilder {
        hyper: Hyper {
            vocab: v as u32,
            embed: e as u32,
            hidden: h as u32,
            layers: cfg.layers as u32,
        },
        tokenizer: ck.meta.vocab.spec(),
        vocab: ck.meta.vocab.tokens.clone(),
        embedding,
        layers,
        dense,
        dense_bias: get("dense.bias")?,
        meta: meta.to_string(),
    };
    Ok((builder, errors))
}

/// Writes a model file atomically.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    atomic_write(path, |tmp| {
        std::fs::write(tmp, bytes).with_context(|| format!("writing {}", tmp.display()))
    })
}

/// Mean cross-entropy of the checkpoint (libtorch, f32) over tokens, one stream from a zero state, reset after
/// each sentence end when `reset_at_ends`.
pub fn float_loss(net: &Net, tokens: &[u32], ends: &[bool], reset_at_ends: bool) -> f64 {
    let mut state = net.zero_state(1);
    let (mut sum, mut n) = (0.0, 0usize);
    for i in 0..tokens.len().saturating_sub(1) {
        if reset_at_ends && ends[i] {
            state = net.zero_state(1);
            continue;
        }
        let (logits, next) = step_logits(net, &state, tokens[i]);
        sum += nll(&logits, tokens[i + 1]);
        n += 1;
        state = next;
    }
    sum / n.max(1) as f64
}

/// The same through quill-core (int8 or float path): the numbers `quill export` and `quill eval` report.
pub fn core_loss(
    model: &Model<'_>,
    float: bool,
    tokens: &[u32],
    ends: &[bool],
    reset_at_ends: bool,
) -> Result<f64> {
    let mut g: Box<Generator<1024, 4, 8>> = Box::new(if float {
        Generator::new_float(model, SamplerConfig::GREEDY, 0)?
    } else {
        Generator::new(model, SamplerConfig::GREEDY, 0)?
    });
    let mut logits = vec![0f32; model.hyper().vocab as usize];
    let (mut sum, mut n) = (0.0, 0usize);
    for i in 0..tokens.len().saturating_sub(1) {
        if reset_at_ends && ends[i] {
            g.reset();
            continue;
        }
        g.feed(tokens[i]);
        g.logits(&mut logits)?;
        sum += nll(&logits, tokens[i + 1]);
        n += 1;
    }
    Ok(sum / n.max(1) as f64)
}

/// -log softmax(logits)[target], in f64.
pub fn nll(logits: &[f32], target: u32) -> f64 {
    let m = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let lse = logits
        .iter()
        .map(|&l| (l as f64 - m).exp())
        .sum::<f64>()
        .ln()
        + m;
    lse - logits.get(target as usize).copied().unwrap_or(0.0) as f64
}
