//! `quill study`: what teacher forcing, scheduled sampling and Professor Forcing change in long free-running text,
//! for LSTM and GRU, at char and word level, measured the same way on the user's corpus.
//!
//! * [`plan`] — the arms and their settings (equal budgets), the reference model's;
//! * [`heldout`] — where validation begins in the text of each level, the held-out prompts;
//! * [`samples`] — free-running samples through quill-core, scored by the reference ([`samples::Judge`]);
//! * [`report`] — `study.json`, `study.md`, `samples/*.md`; [`chart`] — `study.png`.
//!
//! Runs live in `OUT/runs/<arm>` and `OUT/reference`: a study stopped by Ctrl-C goes on where it stopped when the
//! same command runs again, and finished runs are kept (only the measures are taken again).

pub mod chart;
pub mod heldout;
pub mod plan;
pub mod report;
pub mod samples;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use quill_core::{DType, Level, Model};
use tch::Device;

use crate::checkpoint::{self, Checkpoint};
use crate::export;
use crate::settings::TrainSettings;
use crate::train::{self, RunOptions};
use heldout::{Prompt, Split};
use plan::{Arm, Plan};
use report::{ArmRow, LevelRow, ReferenceRow, Report};
use samples::{Judge, Mode, Sample, Summary};

/// What `quill study` does besides the plan.
pub struct StudyOptions {
    /// The study folder.
    pub out: PathBuf,
    /// Device name (`auto`, `cpu`, `cuda`).
    pub device: String,
    /// Prompts, and so samples per arm and mode.
    pub samples: usize,
    /// Words measured per sample.
    pub sample_words: usize,
    /// Set when Ctrl-C was pressed.
    pub interrupt: Arc<AtomicBool>,
}

/// Settings as compared for reuse: all but the corpus paths (the same files may be named another way).
fn comparable(s: &TrainSettings) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("corpus");
    }
    v
}

/// Trains `settings` into `dir`, or keeps the run already there: finished runs are kept, interrupted ones
/// resumed, runs with other settings refused (the user chooses another folder or deletes it).
fn train_or_keep(
    name: &str,
    settings: &TrainSettings,
    dir: &Path,
    opts: &StudyOptions,
) -> Result<()> {
    let (last, _) = checkpoint::paths(dir);
    let mut resume = false;
    if last.exists() {
        let ck = checkpoint::load(&last, Device::Cpu)?;
        if comparable(&ck.meta.settings) != comparable(settings) {
            bail!(
                "{} holds a run with other settings than this study's; give another --out or delete that folder",
                dir.display()
            );
        }
        if ck.meta.epochs_done >= settings.epochs && !ck.meta.interrupted {
            eprintln!("study: {name}: kept the finished run in {}", dir.display());
            return Ok(());
        }
        resume = true;
    }
    eprintln!(
        "study: {name}: training {} epochs{} into {}",
        settings.epochs,
        if resume { " (resuming)" } else { "" },
        dir.display()
    );
    let run = RunOptions {
        out: dir.to_path_buf(),
        resume,
        device: opts.device.clone(),
        json: false,
        interrupt: opts.interrupt.clone(),
    };
    train::run(settings.clone(), &run)?;
    if opts.interrupt.load(Ordering::SeqCst) {
        bail!("interrupted; run the same command again to go on where the study stopped");
    }
    Ok(())
}

/// Training steps of a run over `split` with `s` (stream windows of B × T tokens).
fn steps(s: &TrainSettings, split: &Split) -> u64 {
    let per_epoch = split.train_tokens.div_ceil((s.batch * s.seq_len).max(1));
    (per_epoch * s.epochs) as u64
}

/// A run's mean seconds and tokens/s per epoch and its best epoch with its validation loss (nats per token),
/// from the history of its last checkpoint (the best one's stops at the best epoch).
fn timing(history: &[crate::settings::EpochMetrics]) -> (f64, f64, usize, f64) {
    let n = history.len().max(1) as f64;
    let (best_epoch, best) = history
        .iter()
        .map(|m| (m.epoch, m.val_loss))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, f64::NAN));
    (
        history.iter().map(|m| m.seconds).sum::<f64>() / n,
        history.iter().map(|m| m.tokens_per_s).sum::<f64>() / n,
        best_epoch,
        best,
    )
}

/// Bits per character of a mean loss of `nats` per token on `split`'s held-out text.
fn bits_per_char(nats: f64, split: &Split) -> f64 {
    nats * split.tokens_per_char() / std::f64::consts::LN_2
}

/// The held-out text's own continuations of the prompts, measured as samples are: the row a model would reach
/// if it wrote like the corpus.
fn held_out_samples(
    text: &str,
    prompts: &[Prompt],
    judge: &Judge<'_>,
    len: usize,
) -> Result<Vec<Sample>> {
    prompts
        .iter()
        .map(|p| {
            let rest = text.get(p.end..).unwrap_or("");
            let cut = samples::after_words(rest, len);
            let all = samples::words(cut);
            Ok(Sample {
                prompt: p.text.clone(),
                text: cut.to_string(),
                tokens: all.len(),
                fluency: judge.score(&p.text, cut)?,
                stats: crate::freerun::TextStats::of(&all),
                words: all.len(),
            })
        })
        .collect()
}

/// Runs the study of `plan` into `opts.out` and writes its report; returns it.
pub fn run(plan: &Plan, opts: &StudyOptions) -> Result<Report> {
    let started = Instant::now();
    // One cleaned text for every level (same corpus, profile and sentences), split per level; the folder is made
    // once the corpus has been read.
    let text = crate::dataset::read_cleaned(&plan.reference)?;
    let mut splits = Vec::new();
    for level in plan.levels() {
        splits.push((level, heldout::split_text(plan.level(level), text.clone())?));
    }
    let reference_split = heldout::split_text(&plan.reference, text.clone())?;
    let from = splits
        .iter()
        .map(|(_, s)| s.val_start)
        .chain([reference_split.val_start])
        .max()
        .unwrap_or(0);
    let word_vocab = splits
        .iter()
        .find(|(l, _)| *l == Level::Word)
        .map(|(_, s)| &s.vocab);
    let prompts = heldout::prompts(&text, from, opts.samples, word_vocab)?;
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating the study folder {}", opts.out.display()))?;
    let split_of = |level: Level| {
        splits
            .iter()
            .find(|(l, _)| *l == level)
            .map(|(_, s)| s)
            .context("a level of the plan has no split")
    };

    // Training: the reference first (every arm's samples need it), then the arms in table order.
    let total = plan.arms.len() + 1;
    let ref_dir = opts.out.join("reference");
    train_or_keep(
        &format!("[1/{total}] reference"),
        &plan.reference,
        &ref_dir,
        opts,
    )?;
    let runs = opts.out.join("runs");
    for (i, arm) in plan.arms.iter().enumerate() {
        let split = split_of(arm.level)?;
        let s = plan.settings(arm, steps(plan.level(arm.level), split));
        let name = format!("[{}/{total}] {}", i + 2, arm.name());
        train_or_keep(&name, &s, &runs.join(arm.name()), opts)?;
    }

    // Measures: every model runs through quill-core in int8, the judge too (`quill export` prints its f32 and
    // int8 perplexity: 3.10 and 3.10, -0.02%, for the default study's reference).
    let (ref_last, ref_best) = checkpoint::paths(&ref_dir);
    let ref_history = checkpoint::load(&ref_last, Device::Cpu)?.meta.history;
    let ref_ck = checkpoint::load(&ref_best, Device::Cpu)?;
    let ref_bytes = export::build(&ref_ck, DType::I8RowScaled)?.0.to_bytes()?;
    let ref_model = Model::from_bytes(&ref_bytes)?;
    let judge = Judge::new(&ref_model, &ref_ck.meta.vocab);
    let (ref_secs, _, _, ref_loss) = timing(&ref_history);
    let reference = ReferenceRow {
        params: ref_ck.net.parameter_count(),
        hidden: plan.reference.hidden,
        layers: plan.reference.layers,
        seconds_per_epoch: ref_secs,
        val_bits_per_char: bits_per_char(ref_loss, &reference_split),
        held_out: Summary::of(&held_out_samples(
            &text,
            &prompts,
            &judge,
            opts.sample_words,
        )?),
    };
    let mut rows = Vec::new();
    let mut all_samples = Vec::new();
    let mut training_seconds: f64 = ref_history.iter().map(|m| m.seconds).sum();
    for arm in &plan.arms {
        eprintln!("study: sampling {}", arm.name());
        let split = split_of(arm.level)?;
        let (last, best) = checkpoint::paths(&runs.join(arm.name()));
        let history = checkpoint::load(&last, Device::Cpu)?.meta.history;
        training_seconds += history.iter().map(|m| m.seconds).sum::<f64>();
        let ck = checkpoint::load(&best, Device::Cpu)?;
        let bytes = export::build(&ck, DType::I8RowScaled)?.0.to_bytes()?;
        let model = Model::from_bytes(&bytes)?;
        let texts: Vec<String> = prompts.iter().map(|p| p.text.clone()).collect();
        let by_mode: Vec<Vec<Sample>> = Mode::ALL
            .iter()
            .map(|&m| samples::samples(&model, &judge, &texts, m, opts.sample_words))
            .collect::<Result<_>>()?;
        rows.push(arm_row(arm, &ck, &history, bytes.len(), split, &by_mode));
        all_samples.push((*arm, by_mode));
    }
    let levels = splits.iter().map(|(l, s)| LevelRow::of(*l, s)).collect();
    let report = Report {
        size: plan.size,
        corpus: plan.reference.corpus.clone(),
        text_chars: text.chars().count(),
        sample_words: opts.sample_words,
        ss_min: plan.ss_min(),
        pf_weight: plan.pf_weight(),
        prompts: prompts.iter().map(|p| p.text.clone()).collect(),
        levels,
        reference,
        arms: rows,
        seconds: started.elapsed().as_secs_f64(),
        training_seconds,
    };
    report::write(&opts.out, &report, &all_samples)?;
    Ok(report)
}

/// One arm's row of the table.
fn arm_row(
    arm: &Arm,
    ck: &Checkpoint,
    h: &[crate::settings::EpochMetrics],
    model_bytes: usize,
    split: &Split,
    by_mode: &[Vec<Sample>],
) -> ArmRow {
    let (secs, tps, best_epoch, loss) = timing(h);
    let mean_of = |f: &dyn Fn(&crate::settings::EpochMetrics) -> Option<f64>| {
        let v: Vec<f64> = h.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let summary = |m: usize| by_mode.get(m).map(|s| Summary::of(s));
    ArmRow {
        name: arm.name(),
        cell: arm.cell.prefix().to_string(),
        forcing: plan::forcing_name(arm.forcing).to_string(),
        level: plan::level_name(arm.level).to_string(),
        params: ck.net.parameter_count(),
        model_bytes,
        epochs: h.len(),
        best_epoch,
        seconds_per_epoch: secs,
        tokens_per_s: tps,
        val_ppl: loss.exp(),
        val_bits_per_char: bits_per_char(loss, split),
        self_fed: mean_of(&|m| m.scheduled.map(|s| s.1)),
        discriminator_accuracy: mean_of(&|m| m.professor.map(|p| p.0)),
        greedy: summary(0),
        sampled: summary(1),
    }
}
