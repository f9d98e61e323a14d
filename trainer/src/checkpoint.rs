//! Checkpoints: parameters, Adam moments, vocabulary, settings and history in one file, written atomically; and
//! what a path on the command line means (a checkpoint, or a run folder and its best checkpoint).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use tch::{Device, Kind, Tensor};

use crate::adam::Adam;
use crate::atomic;
use crate::net::{Net, NetConfig};
use crate::settings::{EpochMetrics, TrainSettings};
use crate::vocab::Vocabulary;

/// Everything but the tensors, stored as JSON inside the checkpoint.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    /// Checkpoint layout version.
    pub version: u32,
    /// Network dimensions.
    pub net: NetConfig,
    /// Training settings.
    pub settings: TrainSettings,
    /// The vocabulary and tokenizer.
    pub vocab: Vocabulary,
    /// Epochs completed.
    pub epochs_done: usize,
    /// Best validation loss so far and its epoch.
    pub best_val: Option<(f64, usize)>,
    /// Per-epoch metrics.
    pub history: Vec<EpochMetrics>,
    /// Set when the run was interrupted mid-epoch (the weights are from the middle of epoch `epochs_done + 1`).
    pub interrupted: bool,
}

/// A loaded checkpoint.
pub struct Checkpoint {
    /// Metadata.
    pub meta: Meta,
    /// The network with its trained weights.
    pub net: Net,
    /// Optimizer state.
    pub adam: Adam,
    /// Validation tokens (at most a few tens of thousands) for export-time comparisons.
    pub val_tokens: Vec<u32>,
    /// Sentence ends of the validation tokens.
    pub val_ends: Vec<bool>,
    /// Training-only state beside the network (the Professor Forcing discriminator), by name.
    pub extra: Vec<(String, Tensor)>,
}

/// The layout version this build writes and reads.
pub const VERSION: u32 = 1;

/// Saves a checkpoint atomically.
pub fn save(
    path: &Path,
    meta: &Meta,
    net: &Net,
    adam: &Adam,
    val_tokens: &[u32],
    val_ends: &[bool],
    extra: &[(String, Tensor)],
) -> Result<()> {
    let json = serde_json::to_vec(meta)?;
    let params = net.named_parameters();
    let mut named: Vec<(String, Tensor)> = vec![("meta".into(), Tensor::from_slice(&json))];
    for (i, (name, p)) in params.iter().enumerate() {
        named.push((format!("param.{name}"), p.to_device(Device::Cpu)));
        named.push((format!("adam_m.{name}"), adam.m[i].to_device(Device::Cpu)));
        named.push((format!("adam_v.{name}"), adam.v[i].to_device(Device::Cpu)));
    }
    named.push(("adam_step".into(), Tensor::from_slice(&[adam.step])));
    let val: Vec<i32> = val_tokens.iter().map(|&t| t as i32).collect();
    named.push(("val_tokens".into(), Tensor::from_slice(&val)));
    let ends: Vec<u8> = val_ends.iter().map(|&e| u8::from(e)).collect();
    named.push(("val_ends".into(), Tensor::from_slice(&ends)));
    for (name, t) in extra {
        named.push((format!("extra.{name}"), t.to_device(Device::Cpu)));
    }
    atomic::write_with(path, |tmp| {
        Tensor::save_multi(&named, tmp)
            .with_context(|| format!("writing checkpoint {}", tmp.display()))
    })
}

/// Whether `bytes` start like a quill model file (what `quill export` writes).
pub fn is_model_file(bytes: &[u8]) -> bool {
    bytes.starts_with(&quill_core::format::MAGIC)
}

/// Whether the file at `path` starts like a quill model file, reading only its first four bytes.
pub fn starts_like_model(path: &Path) -> std::io::Result<bool> {
    let mut head = Vec::with_capacity(4);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(path)?, 4),
        &mut head,
    )?;
    Ok(is_model_file(&head))
}

/// Loads a checkpoint onto `device`.
pub fn load(path: &Path, device: Device) -> Result<Checkpoint> {
    let named = Tensor::load_multi(path).map_err(|_| not_a_checkpoint(path))?;
    let get = |name: &str| {
        named
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.shallow_clone())
    };
    let meta_t = get("meta").ok_or_else(|| not_a_checkpoint(path))?;
    let meta_bytes = Vec::<u8>::try_from(&meta_t.to_kind(Kind::Uint8))?;
    let mut meta: Meta = serde_json::from_slice(&meta_bytes).with_context(|| {
        format!(
            "the metadata of checkpoint {} is unreadable",
            path.display()
        )
    })?;
    if meta.version != VERSION {
        bail!(
            "checkpoint version {} is not supported (this quill reads {VERSION}); use the quill that wrote it",
            meta.version
        );
    }
    meta.settings.validate().with_context(|| {
        format!(
            "checkpoint {} has settings this quill cannot run",
            path.display()
        )
    })?;
    meta.vocab = meta.vocab.reindexed();
    let net = Net::new(meta.net, device);
    let params = net.named_parameters();
    let mut adam = Adam::new(&params, meta.settings.lr);
    tch::no_grad(|| -> Result<()> {
        for (i, (name, p)) in params.iter().enumerate() {
            let src = get(&format!("param.{name}"))
                .with_context(|| format!("checkpoint {} lacks parameter {name}", path.display()))?;
            if src.size() != p.size() {
                bail!(
                    "checkpoint {}: parameter {name} has shape {:?}, its settings say {:?}",
                    path.display(),
                    src.size(),
                    p.size()
                );
            }
            p.shallow_clone().copy_(&src);
            if let (Some(m), Some(v)) = (
                get(&format!("adam_m.{name}")),
                get(&format!("adam_v.{name}")),
            ) {
                adam.m[i].copy_(&m);
                adam.v[i].copy_(&v);
            }
        }
        Ok(())
    })?;
    adam.step = get("adam_step").map_or(0, |t| t.int64_value(&[0]));
    let val_tokens = get("val_tokens").map_or(Ok(Vec::new()), |t| Vec::<i32>::try_from(&t))?;
    let val_ends = get("val_ends").map_or(Ok(Vec::new()), |t| Vec::<u8>::try_from(&t))?;
    let extra = named
        .iter()
        .filter_map(|(n, t)| Some((n.strip_prefix("extra.")?.to_string(), t.shallow_clone())))
        .collect();
    Ok(Checkpoint {
        meta,
        net,
        adam,
        val_tokens: val_tokens.into_iter().map(|t| t as u32).collect(),
        val_ends: val_ends.into_iter().map(|e| e != 0).collect(),
        extra,
    })
}

/// The error for a file that is no checkpoint: says what it is instead, when that can be told.
fn not_a_checkpoint(path: &Path) -> anyhow::Error {
    match starts_like_model(path) {
        Err(e) => anyhow::anyhow!("cannot read {}: {e}", path.display()),
        Ok(true) => anyhow::anyhow!(
            "{} is a quill model file, not a checkpoint: `quill generate`, `eval` and `inspect` take it; \
             `export` and `--float` need the checkpoint (best.ckpt in the run folder)",
            path.display()
        ),
        Ok(false) => anyhow::anyhow!(
            "{} is neither a quill model file nor a quill checkpoint; pass a run folder from `quill train`, \
             its best.ckpt / last.ckpt, or a model file from `quill export`",
            path.display()
        ),
    }
}

/// `last.ckpt` and `best.ckpt` in a run folder.
pub fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("last.ckpt"), dir.join("best.ckpt"))
}

/// A checkpoint file as given, or the best checkpoint of a run folder (failing with what to pass when the
/// folder has none).
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if !path.is_dir() {
        if !path.exists() {
            bail!(
                "{} does not exist; pass a run folder from `quill train` or a checkpoint file",
                path.display()
            );
        }
        return Ok(path.to_path_buf());
    }
    let (last, best) = paths(path);
    match (best.exists(), last.exists()) {
        (true, _) => Ok(best),
        (false, true) => Ok(last),
        _ => bail!(
            "folder {} has no best.ckpt or last.ckpt: pass the --out folder of a `quill train` run",
            path.display()
        ),
    }
}
