//! The training loop: epochs, validation, checkpoints, early stopping, Ctrl-C, NaN guard, progress, metrics.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use quill_core::{Level, Profile};
use tch::{Device, Tensor};

use crate::adam::Adam;
use crate::checkpoint::{self, Meta};
use crate::corpus::{self, Encoding};
use crate::data::{self, Context};
use crate::net::{loss_and_accuracy, Net, NetConfig};
use crate::vocab::{Encoded, Vocabulary};
use crate::{clean, plot};

/// Everything `quill train` was asked to do (stored in checkpoints so `--resume` needs only the folder).
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
    /// Seed of every random choice (initialization, dropout, shuffling).
    pub seed: u64,
    /// Fraction of the corpus (from the end) held out for validation.
    pub val_split: f64,
    /// Network shape.
    pub embed: i64,
    /// Hidden width.
    pub hidden: i64,
    /// LSTM layers.
    pub layers: i64,
    /// Dropout.
    pub dropout: f64,
    /// Tie embedding and dense weights.
    pub tie: bool,
}

/// One epoch's numbers (also a line of `metrics.jsonl`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training cross-entropy (nats/token).
    pub train_loss: f64,
    /// Training next-token accuracy.
    pub train_acc: f64,
    /// Validation cross-entropy.
    pub val_loss: f64,
    /// Validation accuracy.
    pub val_acc: f64,
    /// exp(val_loss).
    pub val_ppl: f64,
    /// Training tokens per second.
    pub tokens_per_s: f64,
    /// Seconds for the epoch (training and validation).
    pub seconds: f64,
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

/// Reads, cleans and encodes the corpus of `s` with `vocab` (built here when `None`).
pub fn prepare(s: &TrainSettings, vocab: Option<Vocabulary>) -> Result<(Vocabulary, Encoded)> {
    let files = corpus::expand(&s.corpus)?;
    let raw = corpus::read_all(&files, s.encoding)?;
    let mut text = clean::clean(s.profile, &raw);
    if s.max_sentences > 0 {
        let mut count = 0;
        let mut cut = text.len();
        quill_core::text::pieces(s.level, s.profile, &text, |p| {
            if p.sentence_end && count <= s.max_sentences {
                count += 1;
                if count == s.max_sentences {
                    cut = p.text.as_ptr() as usize - text.as_ptr() as usize + p.text.len();
                }
            }
        });
        text.truncate(cut);
    }
    let vocab = match vocab {
        Some(v) => v,
        None => Vocabulary::build(&text, s.level, s.profile, s.max_vocab, s.min_count)?,
    };
    let mut enc = vocab.encode(&text);
    if s.max_tokens > 0 && enc.ids.len() > s.max_tokens {
        enc.ids.truncate(s.max_tokens);
        enc.sentence_end.truncate(s.max_tokens);
    }
    let min = 64.max(4 * s.seq_len);
    if enc.ids.len() < min {
        bail!(
            "the corpus is too small: {} tokens after cleaning ({} files); need at least {min}. Add text or lower --seq-len",
            enc.ids.len(),
            files.len()
        );
    }
    Ok((vocab, enc))
}

/// Mean loss and accuracy of `net` over `enc` (no gradients).
pub fn evaluate(net: &Net, enc: &Encoded, s: &TrainSettings, device: Device) -> (f64, f64) {
    tch::no_grad(|| {
        let batches = data::batches(enc, s.context, s.batch, s.seq_len, 0, false, device);
        let (mut loss_sum, mut correct, mut count) = (0.0, 0i64, 0i64);
        let mut state = None;
        for b in &batches {
            let st = match (&state, b.carry) {
                (Some(st), true) => st,
                _ => &net.zero_state(b.xs.size()[0]),
            };
            let (logits, next) = net.forward(&b.xs, st, false);
            let (loss, c, n) = loss_and_accuracy(&logits, &b.ys);
            loss_sum += loss.double_value(&[]) * n as f64;
            correct += c;
            count += n;
            state = Some(next);
        }
        let n = count.max(1) as f64;
        (loss_sum / n, correct as f64 / n)
    })
}

/// Options that are not stored in the checkpoint.
pub struct RunOptions {
    /// Run folder (checkpoints, metrics, plot).
    pub out: PathBuf,
    /// Continue from `out/last.ckpt`.
    pub resume: bool,
    /// Device name.
    pub device: String,
    /// Print one JSON object per epoch instead of text, and no progress bar.
    pub json: bool,
    /// Set when Ctrl-C was pressed.
    pub interrupt: Arc<AtomicBool>,
}

/// What a finished run produced.
pub struct Outcome {
    /// The best checkpoint.
    pub best: PathBuf,
    /// Metrics of every epoch.
    pub history: Vec<EpochMetrics>,
}

fn detach(st: &crate::net::State) -> crate::net::State {
    let (h, c) = &st.0;
    tch::nn::LSTMState((h.detach(), c.detach()))
}

/// Trains (or resumes) a run.
pub fn run(settings: TrainSettings, opts: &RunOptions) -> Result<Outcome> {
    let device = device(&opts.device)?;
    let (last_path, best_path) = checkpoint::paths(&opts.out);
    let (mut meta, net, mut adam, train, val) = if opts.resume {
        let ck = checkpoint::load(&last_path, device).with_context(|| {
            format!("--resume needs {} from an earlier run", last_path.display())
        })?;
        let mut s = ck.meta.settings.clone();
        s.epochs = settings.epochs.max(s.epochs);
        let (_, enc) = prepare(&s, Some(ck.meta.vocab.clone()))?;
        let (train, val) = data::split(&enc, s.val_split);
        let meta = Meta {
            settings: s,
            interrupted: false,
            ..ck.meta
        };
        (meta, ck.net, ck.adam, train, val)
    } else {
        let (vocab, enc) = prepare(&settings, None)?;
        let (train, val) = data::split(&enc, settings.val_split);
        tch::manual_seed(settings.seed as i64);
        let cfg = NetConfig {
            vocab: vocab.len() as i64,
            embed: settings.embed,
            hidden: settings.hidden,
            layers: settings.layers,
            dropout: settings.dropout,
            tie: settings.tie,
        };
        let net = Net::new(cfg, device)?;
        let adam = Adam::new(&net.named_parameters(), settings.lr);
        let meta = Meta {
            version: 1,
            net: cfg,
            settings: settings.clone(),
            vocab,
            epochs_done: 0,
            best_val: None,
            history: Vec::new(),
            interrupted: false,
        };
        (meta, net, adam, train, val)
    };
    if val.ids.len() < 2 {
        bail!("the validation split is empty; raise --val-split or add text");
    }
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let s = meta.settings.clone();
    let params = net.named_parameters();
    let keep = val.ids.len().min(50_000);
    let (val_tokens, val_ends) = (&val.ids[..keep], &val.sentence_end[..keep]);
    if !opts.json {
        eprintln!(
            "quill: {} train / {} val tokens, vocab {}, {} parameters, device {:?}",
            train.ids.len(),
            val.ids.len(),
            meta.vocab.len(),
            net.parameter_count(),
            device
        );
    }
    let mut metrics_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(opts.out.join("metrics.jsonl"))?;
    for epoch in meta.epochs_done + 1..=s.epochs {
        let started = Instant::now();
        tch::manual_seed(
            (s.seed as i64)
                .wrapping_mul(1_000_003)
                .wrapping_add(epoch as i64),
        );
        let batches = data::batches(
            &train,
            s.context,
            s.batch,
            s.seq_len,
            s.seed ^ (epoch as u64) << 32,
            true,
            device,
        );
        let total: i64 = batches.iter().map(data::targets).sum();
        let bar = progress(total as u64, epoch, s.epochs, opts.json);
        let (mut loss_sum, mut correct, mut count) = (0.0, 0i64, 0i64);
        let mut state: Option<crate::net::State> = None;
        for b in &batches {
            if opts.interrupt.load(Ordering::SeqCst) {
                bar.abandon();
                meta.interrupted = true;
                checkpoint::save(&last_path, &meta, &net, &adam, val_tokens, val_ends)?;
                bail!(
                    "interrupted during epoch {epoch}; weights saved to {} (completed epochs: {}). \
                     `quill train --resume --out {}` continues from the last completed epoch's optimizer state",
                    last_path.display(),
                    meta.epochs_done,
                    opts.out.display()
                );
            }
            let st = match (&state, b.carry) {
                (Some(st), true) => detach(st),
                _ => net.zero_state(b.xs.size()[0]),
            };
            let (logits, next) = net.forward(&b.xs, &st, true);
            let (loss, c, n) = loss_and_accuracy(&logits, &b.ys);
            let lv = loss.double_value(&[]);
            if !lv.is_finite() {
                bar.abandon();
                bail!(
                    "training loss became {lv} in epoch {epoch}; stopped. The last good checkpoint is {} — \
                     lower --lr or set --clip",
                    last_path.display()
                );
            }
            loss.backward();
            Adam::clip_grad_norm(&params, s.clip);
            adam.step(&params);
            loss_sum += lv * n as f64;
            correct += c;
            count += n;
            state = Some(next);
            bar.inc(n as u64);
            bar.set_message(format!("loss {:.3}", loss_sum / count.max(1) as f64));
        }
        bar.finish_and_clear();
        let train_secs = started.elapsed().as_secs_f64();
        let (val_loss, val_acc) = evaluate(&net, &val, &s, device);
        let m = EpochMetrics {
            epoch,
            train_loss: loss_sum / count.max(1) as f64,
            train_acc: correct as f64 / count.max(1) as f64,
            val_loss,
            val_acc,
            val_ppl: val_loss.exp(),
            tokens_per_s: count as f64 / train_secs.max(1e-9),
            seconds: started.elapsed().as_secs_f64(),
        };
        writeln!(metrics_file, "{}", serde_json::to_string(&m)?)?;
        if opts.json {
            println!("{}", serde_json::to_string(&m)?);
        } else {
            eprintln!(
                "epoch {:>3}/{}: train loss {:.4} acc {:.3} | val loss {:.4} acc {:.3} ppl {:.1} | {:.0} tokens/s, {:.1}s",
                epoch, s.epochs, m.train_loss, m.train_acc, m.val_loss, m.val_acc, m.val_ppl, m.tokens_per_s, m.seconds
            );
        }
        meta.history.push(m);
        meta.epochs_done = epoch;
        let improved = meta.best_val.is_none_or(|(b, _)| val_loss < b);
        if improved {
            meta.best_val = Some((val_loss, epoch));
        }
        checkpoint::save(&last_path, &meta, &net, &adam, val_tokens, val_ends)?;
        if improved {
            checkpoint::save(&best_path, &meta, &net, &adam, val_tokens, val_ends)?;
        }
        plot::loss_curve(&opts.out.join("loss.png"), &meta.history)?;
        if let Some((_, best_epoch)) = meta.best_val {
            if s.patience > 0 && epoch >= best_epoch + s.patience {
                if !opts.json {
                    eprintln!("early stop: no better validation loss for {} epochs (best: epoch {best_epoch})", s.patience);
                }
                break;
            }
        }
    }
    Ok(Outcome {
        best: best_path,
        history: meta.history,
    })
}

fn progress(total: u64, epoch: usize, epochs: usize, hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "epoch {prefix} [{bar:30}] {human_pos}/{human_len} tokens, {per_sec}, ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}

/// Loads the tensors of a checkpoint path or the best checkpoint of a run folder.
pub fn resolve_checkpoint(path: &Path) -> PathBuf {
    if path.is_dir() {
        checkpoint::paths(path).1
    } else {
        path.to_path_buf()
    }
}

/// Logits of a checkpoint for a token sequence run one step at a time with carried state (tests and `--float`).
pub fn step_logits(
    net: &Net,
    state: &crate::net::State,
    token: u32,
) -> (Vec<f32>, crate::net::State) {
    tch::no_grad(|| {
        let xs = Tensor::from_slice(&[i64::from(token)])
            .reshape([1, 1])
            .to_device(net.vs.device());
        let (logits, next) = net.forward(&xs, state, false);
        let v =
            Vec::<f32>::try_from(logits.reshape([-1]).to_device(Device::Cpu)).unwrap_or_default();
        (v, next)
    })
}
