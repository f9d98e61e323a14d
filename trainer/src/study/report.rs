//! The study's results as a person and a script read them: `study.md` (tables, the chart, one sample of each
//! arm), `study.json` (the same numbers), `samples/<arm>.md` (every sample) and `study.png` ([`super::chart`]).
//! Every file is written atomically.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use quill_core::Level;

use super::heldout::Split;
use super::plan::{level_name, Arm, Size};
use super::samples::{Mode, Sample, Summary};
use crate::atomic;

/// What one level's text is.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LevelRow {
    /// `word` or `char`.
    pub level: String,
    /// Vocabulary size.
    pub vocab: usize,
    /// Training tokens.
    pub train_tokens: usize,
    /// Held-out tokens.
    pub val_tokens: usize,
    /// Held-out characters.
    pub val_chars: usize,
}

impl LevelRow {
    /// The row of `level`'s split.
    pub fn of(level: Level, s: &Split) -> Self {
        Self {
            level: level_name(level).to_string(),
            vocab: s.vocab.len(),
            train_tokens: s.train_tokens,
            val_tokens: s.val_tokens,
            val_chars: s.val_chars(),
        }
    }
}

/// The reference model (the fluency judge) and the held-out text judged like the samples.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReferenceRow {
    /// Parameters.
    pub params: i64,
    /// Hidden width.
    pub hidden: i64,
    /// Layers.
    pub layers: i64,
    /// Mean wall seconds per epoch.
    pub seconds_per_epoch: f64,
    /// Teacher-forced bits per character on the held-out text.
    pub val_bits_per_char: f64,
    /// The held-out text's own continuations of the prompts, measured as samples are.
    pub held_out: Summary,
}

/// One arm's row.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ArmRow {
    /// `gru-professor-char`.
    pub name: String,
    /// `lstm` or `gru`.
    pub cell: String,
    /// `teacher`, `scheduled` or `professor`.
    pub forcing: String,
    /// `char` or `word`.
    pub level: String,
    /// Parameters.
    pub params: i64,
    /// Bytes of the int8 model file.
    pub model_bytes: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// The epoch of the best validation loss (its checkpoint is the one measured).
    pub best_epoch: usize,
    /// Mean wall seconds per epoch (training and validation).
    pub seconds_per_epoch: f64,
    /// Mean training tokens per second.
    pub tokens_per_s: f64,
    /// Best validation perplexity (per token, teacher-forced).
    pub val_ppl: f64,
    /// The same as bits per character of the held-out text.
    pub val_bits_per_char: f64,
    /// Scheduled sampling: the mean share of inputs the model fed itself.
    pub self_fed: Option<f64>,
    /// Professor Forcing: the discriminator's mean accuracy.
    pub discriminator_accuracy: Option<f64>,
    /// Greedy samples.
    pub greedy: Option<Summary>,
    /// Samples at temperature 1.0.
    pub sampled: Option<Summary>,
}

/// The whole study.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The preset.
    pub size: Size,
    /// Corpus paths.
    pub corpus: Vec<String>,
    /// Characters of the cleaned text.
    pub text_chars: usize,
    /// Words measured per sample.
    pub sample_words: usize,
    /// Scheduled sampling's floor of ε (its ε falls to ½ at half of training, inverse sigmoid).
    pub ss_min: f64,
    /// Professor Forcing's weight of the adversarial term.
    pub pf_weight: f64,
    /// The prompts.
    pub prompts: Vec<String>,
    /// Each level's text.
    pub levels: Vec<LevelRow>,
    /// The judge.
    pub reference: ReferenceRow,
    /// The arms, in table order.
    pub arms: Vec<ArmRow>,
    /// Wall seconds of this invocation (training of kept runs not included).
    pub seconds: f64,
    /// Seconds all the study's epochs took when they were trained (reference included), kept runs too.
    pub training_seconds: f64,
}

/// A number with `digits` decimals, `—` when absent or not a number.
fn opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "—".to_string(),
    }
}

/// [`opt`] of a present value.
fn num(v: f64, digits: usize) -> String {
    opt(Some(v), digits)
}

/// The free-running columns of one mode.
fn free_cells(s: Option<&Summary>, greedy: bool) -> String {
    let Some(s) = s else {
        return "— | — | — | — |".to_string();
    };
    if greedy {
        format!(
            "{} | {:.3} | {:.3} | {}/{}, {:.0} |",
            num(s.fluency_bits_per_char, 3),
            s.distinct3,
            s.repeated4,
            s.loops,
            s.samples,
            s.words_before_loop
        )
    } else {
        format!(
            "{} | {:.3} | {:.3} | {:.3} |",
            num(s.fluency_bits_per_char, 3),
            s.distinct2,
            s.distinct3,
            s.repeated4
        )
    }
}

/// `study.md`.
pub fn markdown(r: &Report, first: &[(Arm, Vec<Vec<Sample>>)]) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "# quill study: teacher forcing, scheduled sampling and Professor Forcing\n"
    );
    let _ = writeln!(
        m,
        "Corpus: {} ({} characters after cleaning), size `{:?}`; {} held-out prompts of 6 words, each continued \
         greedily and at temperature 1.0, measured on the first {} words. Training took {:.1} min (every \
         epoch of every run, the reference's too); this invocation {:.1} min.\n",
        r.corpus.join(" "),
        r.text_chars,
        r.size,
        r.prompts.len(),
        r.sample_words,
        r.training_seconds / 60.0,
        r.seconds / 60.0
    );
    let _ = writeln!(
        m,
        "Every arm of a level trains on the same text for the same epochs (no early stopping). Scheduled sampling: \
         ε falls from 1 to ½ at half of training (inverse sigmoid), floor {}; Professor Forcing: adversarial \
         weight {}, free-running for the whole window, gate 75–99%.\n",
        r.ss_min, r.pf_weight
    );
    for l in &r.levels {
        let _ = writeln!(
            m,
            "- {} level: V = {}, {} training tokens, {} held-out tokens over {} characters.",
            l.level, l.vocab, l.train_tokens, l.val_tokens, l.val_chars
        );
    }
    let _ = writeln!(
        m,
        "- reference (the fluency judge): char-level GRU, {} × {}, {} parameters, {:.3} bits/char on the held-out \
         text, {:.0} s/epoch.\n",
        r.reference.layers, r.reference.hidden, r.reference.params, r.reference.val_bits_per_char,
        r.reference.seconds_per_epoch
    );
    let _ = writeln!(
        m,
        "## Teacher-forced: held-out text, and what training cost\n"
    );
    let _ = writeln!(
        m,
        "| arm | params | int8 bytes | s/epoch | tokens/s | best epoch | val ppl (per token) | val bits/char | self-fed inputs | discriminator accuracy |"
    );
    let _ = writeln!(m, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for a in &r.arms {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {:.1} | {:.0} | {} of {} | {:.2} | {:.3} | {} | {} |",
            a.name,
            a.params,
            a.model_bytes,
            a.seconds_per_epoch,
            a.tokens_per_s,
            a.best_epoch,
            a.epochs,
            a.val_ppl,
            a.val_bits_per_char,
            opt(a.self_fed, 2),
            opt(a.discriminator_accuracy, 2)
        );
    }
    let _ = writeln!(
        m,
        "\n## Free-running: {} samples of {} words per arm and mode\n",
        r.prompts.len(),
        r.sample_words
    );
    let _ = writeln!(
        m,
        "| arm (best epoch) | greedy: fluency bits/char | distinct-3 | repeated 4-grams | loops, words before | T=1: fluency bits/char | distinct-2 | distinct-3 | repeated 4-grams |"
    );
    let _ = writeln!(m, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let h = &r.reference.held_out;
    let _ = writeln!(
        m,
        "| *held-out text itself* | {:.3} | {:.3} | {:.3} | {}/{}, {:.0} | {:.3} | {:.3} | {:.3} | {:.3} |",
        h.fluency_bits_per_char, h.distinct3, h.repeated4, h.loops, h.samples, h.words_before_loop,
        h.fluency_bits_per_char, h.distinct2, h.distinct3, h.repeated4
    );
    for a in &r.arms {
        let _ = writeln!(
            m,
            "| {} | {} {}",
            a.name,
            free_cells(a.greedy.as_ref(), true),
            free_cells(a.sampled.as_ref(), false)
        );
    }
    let _ = writeln!(
        m,
        "\n![the study's measures](study.png)\n\n\
         How to read it: *val bits/char* is the teacher-forced loss on held-out text, per character so that char and \
         word models compare (a word model's NLL of `<unk>` counts as it is: it need not spell the word, which \
         flatters it). *Fluency* is the reference model's bits per character on a sample's text after its prompt: \
         lower reads more like the corpus — but a loop of one fluent phrase scores well too, so read it beside \
         *distinct-n* (distinct n-grams of words over all n-grams; higher is more varied) and *repeated 4-grams* (the \
         share of 4-grams of words seen earlier in the same sample). *Loops* counts greedy samples that end repeating \
         one cycle of at most 64 words; *words before* is the mean words written before the loop (a sample without \
         one counts its length). The *held-out text itself* row measures the corpus's own continuations of the same \
         prompts the same way: the target.\n"
    );
    let _ = writeln!(
        m,
        "## One sample of each arm (prompt 1; all in `samples/`)\n"
    );
    let prompt = r.prompts.first().cloned().unwrap_or_default();
    let _ = writeln!(m, "Prompt: *{prompt}*\n");
    for (arm, by_mode) in first {
        for (mode, samples) in Mode::ALL.iter().zip(by_mode) {
            if let Some(s) = samples.first() {
                let text = excerpt(s.text.trim_end(), 400);
                let _ = writeln!(m, "- **{}**, {mode:?}: *{}*{text}", arm.name(), s.prompt);
            }
        }
    }
    m
}

/// The first `n` characters of `text` on one line, with an ellipsis if cut.
fn excerpt(text: &str, n: usize) -> String {
    let one: String = text
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    match one.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

/// `samples/<arm>.md`: every sample of an arm with its measures.
fn samples_markdown(arm: &Arm, by_mode: &[Vec<Sample>]) -> String {
    let mut m = format!("# {}: every sample\n", arm.name());
    for (mode, samples) in Mode::ALL.iter().zip(by_mode) {
        let _ = writeln!(m, "\n## {mode:?}\n");
        for (i, s) in samples.iter().enumerate() {
            let _ = writeln!(
                m,
                "{}. fluency {} bits/char; {}\n\n   > **{}**{}\n",
                i + 1,
                num(s.fluency.bits_per_char(), 3),
                s.stats.describe(s.words),
                s.prompt,
                excerpt(s.text.trim_end(), usize::MAX)
            );
        }
    }
    m
}

/// Writes every file of the report into `dir`.
pub fn write(dir: &Path, r: &Report, samples: &[(Arm, Vec<Vec<Sample>>)]) -> Result<()> {
    atomic::write(
        &dir.join("study.json"),
        serde_json::to_string_pretty(r)?.as_bytes(),
    )?;
    atomic::write(&dir.join("study.md"), markdown(r, samples).as_bytes())?;
    let sdir = dir.join("samples");
    std::fs::create_dir_all(&sdir)?;
    for (arm, by_mode) in samples {
        atomic::write(
            &sdir.join(format!("{}.md", arm.name())),
            samples_markdown(arm, by_mode).as_bytes(),
        )?;
    }
    super::chart::write(&dir.join("study.png"), r)
}
