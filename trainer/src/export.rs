//! Checkpoint → quill-core model file (per-row symmetric int8, or f32 for reference), and the estimate of what
//! the generator needs in RAM.

use anyhow::{bail, Context as _, Result};
use quill_core::{DType, Hyper, Int4Scale, ModelBuilder, OwnedLayer, OwnedTensor};
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

/// How each role's matrices are stored (`quill export --weights`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weights {
    /// The embedding (and the dense layer when tied to it).
    pub embedding: DType,
    /// The recurrent layers' `W_ih` and `W_hh`.
    pub recurrent: DType,
    /// The untied dense layer.
    pub dense: DType,
    /// How int4 groups pick their multipliers.
    pub int4: Int4Scale,
}

fn dtype_named(name: &str) -> Result<DType> {
    Ok(match name {
        "int8" => DType::I8RowScaled,
        "int4" => DType::I4GroupScaled,
        "f32" => DType::F32,
        other => bail!("unknown weight type {other:?}: use int8, int4 or f32"),
    })
}

impl Weights {
    /// Every matrix as `dtype`.
    pub fn uniform(dtype: DType) -> Self {
        Self {
            embedding: dtype,
            recurrent: dtype,
            dense: dtype,
            int4: Int4Scale::Search,
        }
    }

    /// `int8`, `int4`, `f32`, or roles: `dense=int4,embedding=int4` (roles not named stay int8).
    pub fn parse(spec: &str) -> Result<Self> {
        if !spec.contains('=') {
            return Ok(Self::uniform(dtype_named(spec.trim())?));
        }
        let mut w = Self::uniform(DType::I8RowScaled);
        for part in spec.split(',') {
            let (role, name) = part.split_once('=').with_context(|| {
                format!("--weights {spec}: write roles as role=type, e.g. dense=int4")
            })?;
            let d = dtype_named(name.trim())?;
            match role.trim() {
                "embedding" => w.embedding = d,
                "recurrent" => w.recurrent = d,
                "dense" => w.dense = d,
                other => bail!("--weights: unknown role {other:?}; the roles are embedding, recurrent and dense"),
            }
        }
        let mixed_f32 = [w.embedding, w.recurrent, w.dense].contains(&DType::F32)
            && [w.embedding, w.recurrent, w.dense]
                .iter()
                .any(|d| d.is_integer());
        if mixed_f32 {
            bail!("--weights {spec}: f32 is for whole reference files; mix only int8 and int4");
        }
        Ok(w)
    }

    /// Whether any role is int4.
    pub fn has_int4(&self) -> bool {
        [self.embedding, self.recurrent, self.dense].contains(&DType::I4GroupScaled)
    }

    /// A short description: `int8`, `int4`, or `embedding int4, recurrent int8, dense int4`.
    pub fn describe(&self) -> String {
        let name = |d: DType| match d {
            DType::I8RowScaled => "int8",
            DType::I4GroupScaled => "int4",
            _ => "f32",
        };
        if self.embedding == self.recurrent && self.recurrent == self.dense {
            name(self.dense).to_string()
        } else {
            format!(
                "embedding {}, recurrent {}, dense {}",
                name(self.embedding),
                name(self.recurrent),
                name(self.dense)
            )
        }
    }
}

/// Builds the model file contents from a checkpoint, every matrix as `dtype`.
pub fn build(ck: &Checkpoint, dtype: DType) -> Result<(ModelBuilder, Vec<QuantError>)> {
    build_with(ck, Weights::uniform(dtype))
}

/// Builds the model file contents from a checkpoint, each role's matrices as `weights` says.
pub fn build_with(ck: &Checkpoint, weights: Weights) -> Result<(ModelBuilder, Vec<QuantError>)> {
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
    let mut tensor = |dtype: DType, name: &str, w: &[f32], rows, cols| {
        let t = match dtype {
            DType::I4GroupScaled => OwnedTensor::quantize_i4(w, rows, cols, weights.int4),
            d => OwnedTensor::new(d, w, rows, cols),
        };
        errors.push(quant_error(name, w, &t));
        t
    };
    let embedding = tensor(weights.embedding, "emb.weight", &get("emb.weight")?, v, e);
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
            w_ih: tensor(weights.recurrent, &w_ih, &get(&w_ih)?, g * h, input),
            w_hh: tensor(weights.recurrent, &w_hh, &get(&w_hh)?, g * h, h),
            bias,
            bias_hn,
        });
    }
    let dense = if cfg.tie {
        None
    } else {
        Some(tensor(
            weights.dense,
            "dense.weight",
            &get("dense.weight")?,
            v,
            h,
        ))
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
        merges: ck.meta.vocab.merges.clone(),
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
    use super::{generator_ram, Weights};
    use quill_core::{DType, Generator};

    #[test]
    fn weights_specs_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(
            Weights::parse("int4").unwrap(),
            Weights::uniform(DType::I4GroupScaled)
        );
        let w = Weights::parse("dense=int4, embedding=int4").unwrap();
        assert_eq!(
            (w.embedding, w.recurrent, w.dense),
            (
                DType::I4GroupScaled,
                DType::I8RowScaled,
                DType::I4GroupScaled
            )
        );
        assert_eq!(w.describe(), "embedding int4, recurrent int8, dense int4");
        for (bad, says) in [
            ("int3", "use int8, int4 or f32"),
            (
                "dense=int4,head=int8",
                "the roles are embedding, recurrent and dense",
            ),
            ("dense=f32", "mix only int8 and int4"),
            ("dense=int4,x", "role=type"),
        ] {
            let err = Weights::parse(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

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
