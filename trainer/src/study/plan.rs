//! What a study trains: the arms ({cell} × {forcing} × {level}), each arm's run settings from one size preset,
//! and the larger char-level reference model that scores the fluency of every arm's samples.
//!
//! Every arm of a level trains on the same text for the same number of epochs (equal budgets in tokens; the
//! table reports the wall time each forcing costs). Early stopping is off, so no arm gets fewer updates.

use anyhow::{bail, Result};
use quill_core::{Level, Profile};

use crate::corpus::Encoding;
use crate::data::Context;
use crate::forcing::{Decay, Forcing, Schedule};
use crate::net::Cell;
use crate::settings::{ProfessorSettings, TrainSettings};

/// `--size`: the preset of corpus share, widths and epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// The first 5,000 sentences (~210k words, ~1M characters), H = 128, 3 epochs: under about 30 minutes on
    /// a 2-core CPU.
    Small,
    /// The whole corpus, H = 256 (reference 2 × 512), 8 epochs: for a GPU.
    Full,
}

/// One trained configuration of the study.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arm {
    /// Recurrent cell.
    pub cell: Cell,
    /// What the network reads while training.
    pub forcing: Forcing,
    /// Token level.
    pub level: Level,
}

/// Lower-case name of a level.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Word => "word",
        Level::Char => "char",
        Level::Bpe => "bpe",
    }
}

/// Lower-case name of a forcing.
pub fn forcing_name(forcing: Forcing) -> &'static str {
    match forcing {
        Forcing::Teacher => "teacher",
        Forcing::Scheduled => "scheduled",
        Forcing::Professor => "professor",
    }
}

impl Arm {
    /// `gru-professor-char`: the arm's run folder and its name in the tables.
    pub fn name(&self) -> String {
        format!(
            "{}-{}-{}",
            self.cell.prefix(),
            forcing_name(self.forcing),
            level_name(self.level)
        )
    }
}

/// Overrides of the preset (`quill study` flags); `None` keeps the preset's value.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Epochs of every run.
    pub epochs: Option<usize>,
    /// Sentences of the corpus kept (0 = all).
    pub max_sentences: Option<usize>,
    /// Embedding width of every arm.
    pub embed: Option<i64>,
    /// Hidden width of every arm.
    pub hidden: Option<i64>,
    /// Hidden width of the reference model.
    pub reference_hidden: Option<i64>,
    /// Scheduled sampling's floor of ε (0: the inputs may become all the model's own).
    pub ss_min: Option<f64>,
    /// Professor Forcing's weight of the adversarial term.
    pub pf_weight: Option<f64>,
}

/// The whole study: its arms, their settings and the reference model's.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The preset it started from.
    pub size: Size,
    /// The arms, in table order (level, then cell, then forcing).
    pub arms: Vec<Arm>,
    /// Settings shared by every arm of a level, before the cell and forcing are set.
    word: TrainSettings,
    char: TrainSettings,
    /// The reference model: char level, GRU, two layers, twice the arms' width.
    pub reference: TrainSettings,
    /// Scheduled sampling's floor of ε.
    ss_min: f64,
}

/// Settings of one level under `size` (cell and forcing still at their defaults).
fn level_settings(corpus: &[String], size: Size, level: Level, o: &Overrides) -> TrainSettings {
    let (sentences, epochs, hidden) = match size {
        Size::Small => (5_000, 3, 128),
        Size::Full => (0, 8, 256),
    };
    let (max_vocab, embed, seq_len) = match (level, size) {
        (Level::Word, Size::Small) => (4_000, 64, 35),
        (Level::Word, Size::Full) => (8_000, 100, 35),
        // Every character of the corpus (the cleaned SOTU text has ~100). (`new` refuses BPE arms.)
        (Level::Char | Level::Bpe, Size::Small) => (512, 32, 100),
        (Level::Char | Level::Bpe, Size::Full) => (512, 64, 150),
    };
    TrainSettings {
        corpus: corpus.to_vec(),
        encoding: Encoding::Utf8,
        profile: Profile::Default,
        level,
        max_vocab,
        min_count: 1,
        max_sentences: o.max_sentences.unwrap_or(sentences),
        max_tokens: 0,
        context: Context::Stream,
        seq_len,
        batch: 32,
        epochs: o.epochs.unwrap_or(epochs),
        lr: 0.003,
        clip: 1.0,
        patience: 0,
        max_minutes: 0.0,
        seed: 0,
        val_split: 0.2,
        cell: Cell::Gru,
        embed: o.embed.unwrap_or(embed),
        hidden: o.hidden.unwrap_or(hidden),
        layers: 1,
        dropout: 0.2,
        tie: false,
        forcing: Forcing::Teacher,
        schedule: crate::settings::default_schedule(),
        professor: ProfessorSettings::default(),
    }
}

/// Parses a comma list of clap values (`lstm,gru`), naming the bad item and the choices.
pub fn parse_list<T: clap::ValueEnum>(flag: &str, list: &str) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match T::from_str(item, true) {
            Ok(v) => out.push(v),
            Err(_) => {
                let names: Vec<String> = T::value_variants()
                    .iter()
                    .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
                    .collect();
                bail!(
                    "--{flag}: unknown value {item:?}; choose from {}",
                    names.join(", ")
                );
            }
        }
    }
    if out.is_empty() {
        bail!("--{flag} is empty; give at least one value");
    }
    Ok(out)
}

impl Plan {
    /// The study of `cells × forcings × levels` on `corpus` at `size`; every run's settings validated here,
    /// before any data is read.
    pub fn new(
        corpus: &[String],
        size: Size,
        cells: &[Cell],
        forcings: &[Forcing],
        levels: &[Level],
        o: &Overrides,
    ) -> Result<Self> {
        if levels.contains(&Level::Bpe) {
            bail!("--levels bpe: the forcing study compares char and word models; the token levels (BPE included) are compared by `cargo xtask tokens`");
        }
        let word = level_settings(corpus, size, Level::Word, o);
        let char = level_settings(corpus, size, Level::Char, o);
        let mut reference = char.clone();
        reference.hidden = o.reference_hidden.unwrap_or(2 * char.hidden);
        reference.embed = 64.min(reference.hidden).max(1);
        reference.layers = 2;
        let (mut word, mut char) = (word, char);
        if let Some(w) = o.pf_weight {
            word.professor.weight = w;
            char.professor.weight = w;
        }
        let mut arms = Vec::new();
        for &level in levels {
            for &cell in cells {
                for &forcing in forcings {
                    let arm = Arm {
                        cell,
                        forcing,
                        level,
                    };
                    if !arms.contains(&arm) {
                        arms.push(arm);
                    }
                }
            }
        }
        let plan = Self {
            size,
            arms,
            word,
            char,
            reference,
            ss_min: o.ss_min.unwrap_or(0.0),
        };
        plan.reference.validate()?;
        for arm in &plan.arms {
            plan.settings(arm, 1).validate()?;
        }
        Ok(plan)
    }

    /// The settings shared by a level's arms (corpus, vocabulary, widths, epochs).
    pub fn level(&self, level: Level) -> &TrainSettings {
        match level {
            Level::Word => &self.word,
            // `new` refuses BPE arms.
            Level::Char | Level::Bpe => &self.char,
        }
    }

    /// Scheduled sampling's floor of ε.
    pub fn ss_min(&self) -> f64 {
        self.ss_min
    }

    /// Professor Forcing's weight of the adversarial term.
    pub fn pf_weight(&self) -> f64 {
        self.word.professor.weight
    }

    /// The levels the arms use, in table order.
    pub fn levels(&self) -> Vec<Level> {
        let mut out = Vec::new();
        for a in &self.arms {
            if !out.contains(&a.level) {
                out.push(a.level);
            }
        }
        out
    }

    /// The run settings of `arm`, whose level trains `steps` steps in all (scheduled sampling's ε falls to ½ at
    /// half of them, [`midpoint_k`], never below the floor).
    pub fn settings(&self, arm: &Arm, steps: u64) -> TrainSettings {
        let mut s = self.level(arm.level).clone();
        s.cell = arm.cell;
        s.forcing = arm.forcing;
        s.schedule = Schedule {
            decay: Decay::InverseSigmoid,
            k: midpoint_k(steps as f64 / 2.0),
            min: self.ss_min,
        };
        s
    }
}

/// The inverse-sigmoid scale k whose ε = k / (k + exp(i/k)) is ½ at step `half` (k·ln k = half), at least 1:
/// the study's schedules are scaled to the run, so a short run is not teacher forcing throughout.
///
/// ```
/// use quill_trainer::study::plan::midpoint_k;
/// let k = midpoint_k(1000.0);
/// assert!((k * k.ln() - 1000.0).abs() < 1e-6);
/// assert_eq!(midpoint_k(0.0), 1.0);
/// ```
pub fn midpoint_k(half: f64) -> f64 {
    if half <= 0.0 {
        return 1.0;
    }
    // k·ln k grows monotonically for k ≥ 1: bisect on [1, half + e].
    let (mut lo, mut hi) = (1.0f64, half + std::f64::consts::E);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid * mid.ln() < half {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arms_cover_the_grid_once_in_table_order() {
        let p = Plan::new(
            &["c.txt".into()],
            Size::Small,
            &[Cell::Lstm, Cell::Gru, Cell::Gru],
            &[Forcing::Teacher, Forcing::Professor],
            &[Level::Char, Level::Word],
            &Overrides::default(),
        )
        .unwrap();
        let names: Vec<String> = p.arms.iter().map(Arm::name).collect();
        assert_eq!(
            names,
            [
                "lstm-teacher-char",
                "lstm-professor-char",
                "gru-teacher-char",
                "gru-professor-char",
                "lstm-teacher-word",
                "lstm-professor-word",
                "gru-teacher-word",
                "gru-professor-word"
            ]
        );
        // Equal budgets within a level; the reference is larger and char-level.
        let (a, b) = (p.settings(&p.arms[0], 100), p.settings(&p.arms[3], 100));
        assert_eq!(
            (a.epochs, a.max_sentences, a.hidden),
            (b.epochs, b.max_sentences, b.hidden)
        );
        assert_eq!(
            a.patience, 0,
            "no early stopping: every arm gets its epochs"
        );
        assert_eq!(p.reference.level, Level::Char);
        assert!(p.reference.hidden > a.hidden && p.reference.layers == 2);
        assert_eq!(p.levels(), [Level::Char, Level::Word]);
    }

    #[test]
    fn bad_lists_and_widths_are_refused_with_the_flag() {
        let err = parse_list::<Cell>("cells", "lstm,rnn")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--cells") && err.contains("\"rnn\"") && err.contains("gru"),
            "{err}"
        );
        assert!(parse_list::<Cell>("cells", " , ").is_err());
        let o = Overrides {
            hidden: Some(0),
            ..Overrides::default()
        };
        let err = Plan::new(
            &[],
            Size::Small,
            &[Cell::Gru],
            &[Forcing::Teacher],
            &[Level::Word],
            &o,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--hidden 0"), "{err}");
    }
}
