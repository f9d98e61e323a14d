//! Checkpoints: parameters, Adam moments, vocabulary, settings and history in one file, written atomically.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use tch::{Device, Kind, Tensor};

use crate::adam::Adam;
use crate::net::{Net, NetConfig};
use crate::train::{EpochMetrics, TrainSettings};
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
}

const VERSION: u32 = 1;

/// Writes `path` atomically: a temporary file in the same folder, then a rename.
pub fn atomic_write(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    write(&tmp)?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Saves a checkpoint.
pub fn save(
    path: &Path,
    meta: &Meta,
    net: &Net,
    adam: &Adam,
    val_tokens: &[u32],
    val_ends: &[bool],
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
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    atomic_write(path, |tmp| {
        Tensor::save_multi(&named, tmp)
            .with_context(|| format!("writing checkpoint {}", tmp.display()))
    })
}

/// Loads a checkpoint onto `device`.
pub fn load(path: &Path, device: Device) -> Result<Checkpoint> {
    let named = Tensor::load_multi(path).with_context(|| {
        format!("{} is not a quill checkpoint (made by `quill train`); a .quill model file goes to `quill generate`", path.display())
    })?;
    let get = |name: &str| {
        named
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.shallow_clone())
    };
    let meta_t = get("meta")
        .with_context(|| format!("{} has no metadata: not a quill checkpoint", path.display()))?;
    let meta_bytes = Vec::<u8>::try_from(&meta_t.to_kind(Kind::Uint8))?;
    let mut meta: Meta =
        serde_json::from_slice(&meta_bytes).context("checkpoint metadata is unreadable")?;
    if meta.version != VERSION {
        bail!(
            "checkpoint version {} is not supported (this quill reads {VERSION})",
            meta.version
        );
    }
    meta.vocab = Vocabulary::from_tokens(
        meta.vocab.tokens.clone(),
        meta.vocab.level,
        meta.vocab.profile,
    );
    let net = Net::new(meta.net, device)?;
    let params = net.named_parameters();
    let mut adam = Adam::new(&params, meta.settings.lr);
    tch::no_grad(|| -> Result<()> {
        for (i, (name, p)) in params.iter().enumerate() {
            let src = get(&format!("param.{name}"))
                .with_context(|| format!("checkpoint lacks parameter {name}"))?;
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
    Ok(Checkpoint {
        meta,
        net,
        adam,
        val_tokens: val_tokens.into_iter().map(|t| t as u32).collect(),
        val_ends: val_ends.into_iter().map(|e| e != 0).collect(),
    })
}

/// `last.ckpt` and `best.ckpt` in a run folder.
pub fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("last.ckpt"), dir.join("best.ckpt"))
}
