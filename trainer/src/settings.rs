//! What a run is asked to do ([`TrainSettings`], stored in checkpoints so `--resume` needs only the folder), the
//! one place it is checked ([`TrainSettings::validate`], before any data is read), and what each epoch measured.

use anyhow::{bail, Result};
use quill_core::limits::{MAX_LAYERS, MAX_VOCAB, MAX_WIDTH};
use quill_core::{Level, Profile};
use tch::Device;

use crate::corpus::Encoding;
use crate::data::Context;

/// Everything `quill train` was asked to do.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TrainSettings {
    /// Corpus files, folders or globs.
    pub corpus: Vec<String>,
    /// Corpus encoding.
    pub encoding: Encoding,
    /// Cleaning profile.
    pub profile: Profile,
    /// Token level.
    pub level: Level,
    /// Most tokens in the vocabulary (special tokens included).
    pub max_vocab: usize,
    /// Least count for a token to enter the vocabulary.
    pub min_count: usize,
    /// Keep only the first N sentences (0 = all).
    pub max_sentences: usize,
    /// Keep only the first N tokens (0 = all).
    pub max_tokens: usize,
    /// Context mode.
    pub context: Context,
    /// Tokens per training sequence (BPTT window or longest sentence piece).
    pub seq_len: usize,
    /// Sequences per batch.
    pub batch: usize,
    /// Epochs in total.
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Gradient-norm clip (0 = off).
    pub clip: f64,
    /// Stop after this many epochs without a better validation loss (0 = never).
    pub patience: usize,
    /// Training-time budget in minutes (0 = none; settings stored before it existed have none).
    #[serde(default)]
    pub max_minutes: f64,
    /// Seed of every random choice (initialization, dropout, shuffling).
    pub seed: u64,
    /// Fraction of the corpus (from the end) held out for validation.
    pub val_split: f64,
    /// Recurrent cell (settings stored before GRUs existed are LSTMs).
    #[serde(default)]
    pub cell: crate::net::Cell,
    /// Embedding width E.
    pub embed: i64,
    /// Hidden width H.
    pub hidden: i64,
    /// Recurrent layers.
    pub layers: i64,
    /// Dropout on the embedding and recurrent outputs while training.
    pub dropout: f64,
    /// Tie embedding and dense weights (E = H).
    pub tie: bool,
    /// What the network reads while training (settings stored before this existed: teacher forcing).
    #[serde(default)]
    pub forcing: crate::forcing::Forcing,
    /// Scheduled sampling's ε schedule (used with `forcing = scheduled`).
    #[serde(default = "default_schedule")]
    pub schedule: crate::forcing::Schedule,
    /// Professor Forcing's settings (used with `forcing = professor`).
    #[serde(default)]
    pub professor: ProfessorSettings,
}

/// `--pf-*`: Professor Forcing.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProfessorSettings {
    /// Free-running steps per window (0 = the window length).
    pub len: usize,
    /// Weight of the adversarial term in the generator's loss.
    pub weight: f64,
    /// Also train teacher-forced behaviour to look free-running (the paper's optional second term).
    pub converse: bool,
    /// The discriminator's hidden width.
    pub width: i64,
}

impl Default for ProfessorSettings {
    fn default() -> Self {
        Self {
            len: 0,
            weight: 1.0,
            converse: false,
            width: 64,
        }
    }
}

/// The schedule of settings stored before scheduled sampling existed (and `quill train`'s defaults).
pub fn default_schedule() -> crate::forcing::Schedule {
    crate::forcing::Schedule {
        decay: crate::forcing::Decay::InverseSigmoid,
        k: 300.0,
        min: 0.0,
    }
}

impl TrainSettings {
    /// Checks every setting against what training and quill-core can do, so a run never trains for an hour and
    /// then fails at export. Each error names the flag and what to pass instead.
    pub fn validate(&self) -> Result<()> {
        let width = |flag: &str, v: i64| -> Result<()> {
            if v < 1 || v > i64::from(MAX_WIDTH) {
                bail!("--{flag} {v}: quill-core runs widths 1..={MAX_WIDTH}");
            }
            Ok(())
        };
        width("embed", self.embed)?;
        width("hidden", self.hidden)?;
        if self.layers < 1 || self.layers > MAX_LAYERS as i64 {
            bail!(
                "--layers {}: quill-core runs 1..={MAX_LAYERS} layers",
                self.layers
            );
        }
        if self.tie && self.embed != self.hidden {
            bail!(
                "--tie needs --embed equal to --hidden (got {} and {}); drop --tie or make them equal",
                self.embed,
                self.hidden
            );
        }
        if self.max_vocab < 2 || self.max_vocab > MAX_VOCAB as usize {
            bail!("--max-vocab {}: must be in 2..={MAX_VOCAB}", self.max_vocab);
        }
        if !(self.max_minutes >= 0.0 && self.max_minutes.is_finite()) {
            bail!(
                "--max-minutes must be 0 (no budget) or positive, got {}",
                self.max_minutes
            );
        }
        if self.level == Level::Bpe {
            crate::vocab::check_bpe_size(self.max_vocab)?;
        }
        if self.min_count < 1 {
            bail!("--min-count must be at least 1");
        }
        if !(self.val_split > 0.0 && self.val_split < 1.0) {
            bail!("--val-split must be in (0, 1), got {}", self.val_split);
        }
        if self.seq_len < 1 || self.batch < 1 || self.epochs < 1 {
            bail!("--seq-len, --batch and --epochs must be at least 1");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!("--lr must be a positive number, got {}", self.lr);
        }
        if !(self.clip >= 0.0 && self.clip.is_finite()) {
            bail!("--clip must be 0 (off) or positive, got {}", self.clip);
        }
        if !(0.0..1.0).contains(&self.dropout) {
            bail!("--dropout must be in [0, 1), got {}", self.dropout);
        }
        if !(self.schedule.k > 0.0 && self.schedule.k.is_finite()) {
            bail!(
                "--ss-k must be a positive number of steps, got {}",
                self.schedule.k
            );
        }
        if !(self.professor.weight >= 0.0 && self.professor.weight.is_finite()) {
            bail!(
                "--pf-weight must be 0 or positive, got {}",
                self.professor.weight
            );
        }
        if self.professor.width < 1 || self.professor.width > 4096 {
            bail!(
                "--pf-width must be in 1..=4096, got {}",
                self.professor.width
            );
        }
        if !(0.0..=1.0).contains(&self.schedule.min) {
            bail!("--ss-min must be in [0, 1], got {}", self.schedule.min);
        }
        Ok(())
    }
}

/// Picks the device: `auto` uses CUDA when libtorch sees a GPU.
pub fn device(name: &str) -> Result<Device> {
    match name {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        "cuda" if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        "cuda" => bail!("--device cuda: libtorch sees no CUDA GPU here; use --device cpu or auto"),
        other => bail!("unknown device {other}; use auto, cpu or cuda"),
    }
}

/// One epoch's numbers (also a line of `metrics.jsonl`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training cross-entropy (nats/token).
    pub train_loss: f64,
    /// Training next-token accuracy, counted on the last batch of each hundredth of the epoch.
    pub train_acc: f64,
    /// Validation cross-entropy.
    pub val_loss: f64,
    /// Validation accuracy.
    pub val_acc: f64,
    /// exp(val_loss).
    pub val_ppl: f64,
    /// Validation bits per character: `val_loss · tokens / characters / ln 2` over the validation split's
    /// cleaned text — the measure that compares word, char and BPE runs (absent in runs from before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_bits_per_char: Option<f64>,
    /// Training tokens per second.
    pub tokens_per_s: f64,
    /// Seconds for the epoch (training and validation).
    pub seconds: f64,
    /// Scheduled sampling: ε at the epoch's last step and the fraction of inputs the model fed itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<(f64, f64)>,
    /// Professor Forcing: the discriminator's mean accuracy and the share of steps its gradient reached the
    /// generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub professor: Option<(f64, f64)>,
    /// Training loss through the epoch: the mean over each of up to [`CURVE_POINTS`] equal runs of steps, in
    /// order (what the loss plot draws per step, smoothed).
    #[serde(default)]
    pub train_curve: Vec<f32>,
}

/// Points of [`EpochMetrics::train_curve`] per epoch, at most.
pub const CURVE_POINTS: usize = 100;
