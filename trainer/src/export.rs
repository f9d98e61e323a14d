//! Checkpoint → quill-core model file (per-row symmetric int8, or f32 for reference), and the estimate of what
//! the generator needs in RAM.

use anyhow::{Context as _, Result};
use quill_core::{DType, Hyper, ModelBuilder, OwnedLayer, OwnedTensor};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::Checkpoint;
use crate::net::Cell;

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
    // The settings were validated against quill-core's limits when the checkpoint was loaded.
    let cfg = ck.net.cfg;
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
    let (p, g) = (cfg.cell.prefix(), cfg.cell.kind().gates());
    let mut layers = Vec::new();
    for l in 0..cfg.layers as usize {
        let input = if l == 0 { e } else { h };
        let (b_ih, b_hh) = (
            get(&format!("{p}.bias_ih_l{l}"))?,
            get(&format!("{p}.bias_hh_l{l}"))?,
        );
        let (w_ih, w_hh) = (format!("{p}.weight_ih_l{l}"), format!("{p}.weight_hh_l{l}"));
        // Fused b_ih + b_hh, except the GRU's n rows: b_hn sits inside r ⊙ (W_hn h + b_hn) and stays apart.
        let fused = if cfg.cell == Cell::Gru { 2 * h } else { g * h };
        let bias = (0..g * h)
            .map(|i| {
                if i < fused {
                    b_ih[i] + b_hh[i]
                } else {
                    b_ih[i]
                }
            })
            .collect();
        let bias_hn = if cfg.cell == Cell::Gru {
            b_hh[2 * h..3 * h].to_vec()
        } else {
            Vec::new()
        };
        layers.push(OwnedLayer {
            w_ih: tensor(&w_ih, &get(&w_ih)?, g * h, input),
            w_hh: tensor(&w_hh, &get(&w_hh)?, g * h, h),
            bias,
            bias_hn,
        });
    }
    let dense = if cfg.tie {
        None
    } else {
        Some(tensor("dense.weight", &get("dense.weight")?, v, h))
    };
    let meta = serde_json::json!({
        "trainer": concat!("quill ", env!("CARGO_PKG_VERSION")),
        "cell": cfg.cell.prefix(),
        "corpus": ck.meta.settings.corpus,
        "epochs": ck.meta.epochs_done,
        "best_val": ck.meta.best_val,
        "context": ck.meta.settings.context,
        "seed": ck.meta.settings.seed,
    });
    let builder = ModelBuilder {
        kind: cfg.cell.kind(),
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

/// Approximate RAM of `Generator<D, L, K>` for a model (D = the wider of E and H rounded up to 32): h and c per
/// layer, gates, two quantized vectors, the float input, the top-k slots (2·K × 8 bytes), the penalty window
/// (64 ids and their sorted copy) and ~200 bytes of the rest. Within 2% of `size_of` (tested).
pub fn generator_ram(e: usize, h: usize, layers: usize, k: usize) -> usize {
    let d = e.max(h).div_ceil(32) * 32;
    2 * layers * d * 4 + 4 * d * 4 + 2 * (4 * d + 72) + 4 * d + 16 * k + 2 * 64 * 4 + 200
}

#[cfg(test)]
mod tests {
    use super::generator_ram;
    use quill_core::Generator;

    #[test]
    fn generator_ram_tracks_size_of() {
        for (estimate, actual) in [
            (
                generator_ram(100, 150, 1, 64),
                size_of::<Generator<160, 1, 64>>(),
            ),
            (
                generator_ram(128, 128, 1, 64),
                size_of::<Generator<128, 1, 64>>(),
            ),
            (
                generator_ram(64, 64, 2, 8),
                size_of::<Generator<64, 2, 8>>(),
            ),
        ] {
            let off = estimate.abs_diff(actual) as f64 / actual as f64;
            assert!(off < 0.02, "estimate {estimate} vs size_of {actual}");
        }
    }
}
