//! `quill train`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use quill_core::{Level, Profile};

use crate::corpus::Encoding;
use crate::data::Context;
use crate::forcing::{Decay, Forcing};
use crate::net::Cell;
use crate::settings::TrainSettings;
use crate::train::{self, RunOptions};

/// Cleaning profile names on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProfileArg {
    /// The seed notebook's regex, exactly.
    Seed,
    /// A writer's cleaning: punctuation as tokens, quotes/dashes normalized, hyphenation joined, lowercase.
    Default,
    /// `default` keeping case ("The United States"; the vocabulary grows, nothing is capitalized after the fact).
    Cased,
    /// The text as it is (case, `$ % ( ) €`, curly quotes, dashes, emoji), whitespace runs as one space and
    /// control characters dropped: for `--level bpe`, which spells anything.
    Text,
}

/// Token level names on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LevelArg {
    /// Words and punctuation marks.
    Word,
    /// Characters.
    Char,
    /// Byte-pair encoding: the 256 bytes and --max-vocab − 256 merges learned on the training split (every text
    /// has tokens: no <unk>; with --profile text by default).
    Bpe,
}

impl LevelArg {
    /// The model-file level.
    pub fn level(self) -> Level {
        match self {
            Self::Word => Level::Word,
            Self::Char => Level::Char,
            Self::Bpe => Level::Bpe,
        }
    }
}

/// `quill train` flags.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Corpus: text files, folders (every .txt below) or quoted globs.
    #[arg(required_unless_present = "resume")]
    pub corpus: Vec<String>,
    /// Run folder for checkpoints (last.ckpt, best.ckpt), metrics.jsonl and loss.png.
    #[arg(long, default_value = "runs/default")]
    pub out: PathBuf,
    /// Continue the run in --out from its last completed epoch (same data, settings and seed).
    #[arg(long)]
    pub resume: bool,
    /// How corpus bytes are decoded.
    #[arg(long, value_enum, default_value_t = Encoding::Utf8)]
    pub encoding: Encoding,
    /// Cleaning profile [default: `default`; `text` with --level bpe, whose tokens spell anything].
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// Token level.
    #[arg(long, value_enum, default_value_t = LevelArg::Word)]
    pub level: LevelArg,
    /// Most tokens in the vocabulary, <unk> included (BPE: the 256 bytes included, so at least 257).
    #[arg(long, default_value_t = 10_000)]
    pub max_vocab: usize,
    /// Least occurrences for a token to enter the vocabulary.
    #[arg(long, default_value_t = 1)]
    pub min_count: usize,
    /// Keep only the first N sentences (the seed kept 10,000; `seed` counts them as Python's split('.')); 0 keeps all.
    #[arg(long, default_value_t = 0)]
    pub max_sentences: usize,
    /// Keep only the first N tokens; 0 keeps all.
    #[arg(long, default_value_t = 0)]
    pub max_tokens: usize,
    /// Context: reset state at each sentence (as the seed), or one stream with carried state.
    #[arg(long, value_enum, default_value_t = Context::Stream)]
    pub context: Context,
    /// Tokens per training sequence (BPTT window, or longest sentence piece).
    #[arg(long, default_value_t = 35)]
    pub seq_len: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Recurrent cell: `lstm` (torch.nn.LSTM) or `gru` (torch.nn.GRU: three gates instead of four, no cell
    /// state; a quarter fewer recurrent weights and less work per token on a board).
    #[arg(long, value_enum, default_value_t = Cell::Lstm)]
    pub cell: Cell,
    /// Embedding width E.
    #[arg(long, default_value_t = 100)]
    pub embed: i64,
    /// Recurrent hidden width H.
    #[arg(long, default_value_t = 150)]
    pub hidden: i64,
    /// Stacked recurrent layers (quill-core runs up to 4).
    #[arg(long, default_value_t = 1)]
    pub layers: i64,
    /// Dropout on the embedding and recurrent outputs while training.
    #[arg(long, default_value_t = 0.2)]
    pub dropout: f64,
    /// Tie the dense weights to the embedding (needs --embed = --hidden; halves the big matrices).
    #[arg(long)]
    pub tie: bool,
    /// What the network reads while training: `teacher` (the ground truth), `scheduled` (scheduled sampling: its
    /// own sampled predictions with probability 1 − ε, ε decaying by --ss-decay) or `professor` (Professor
    /// Forcing: a discriminator, training-only, makes free-running behaviour look teacher-forced; --pf-*).
    #[arg(long, value_enum, default_value_t = Forcing::Teacher)]
    pub forcing: Forcing,
    /// Scheduled sampling's ε over training step i: `inverse-sigmoid` k/(k + exp(i/k)), `linear` 1 − i/k,
    /// `exponential` exp(−i/k).
    #[arg(long, value_enum, default_value_t = Decay::InverseSigmoid)]
    pub ss_decay: Decay,
    /// The schedule's step scale k (training steps; a demo epoch is ~714).
    #[arg(long, default_value_t = 300.0)]
    pub ss_k: f64,
    /// The floor of ε (1 = teacher forcing throughout).
    #[arg(long, default_value_t = 0.0)]
    pub ss_min: f64,
    /// Professor Forcing: free-running steps per window (0, or more than --seq-len: the window length).
    #[arg(long, default_value_t = 0)]
    pub pf_len: usize,
    /// Professor Forcing: weight of the adversarial term in the generator's loss.
    #[arg(long, default_value_t = 1.0)]
    pub pf_weight: f64,
    /// Professor Forcing: also train teacher-forced behaviour to look free-running.
    #[arg(long)]
    pub pf_converse: bool,
    /// Professor Forcing: the discriminator's hidden width.
    #[arg(long, default_value_t = 64)]
    pub pf_width: i64,
    /// Epochs (with --resume: the new total).
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.003)]
    pub lr: f64,
    /// Clip the gradients' global L2 norm to this; 0 turns it off.
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    /// Early stopping: stop after this many epochs without a better validation loss; 0 never stops early.
    #[arg(long, default_value_t = 2)]
    pub patience: usize,
    /// Time budget in minutes of training (0 = none): no epoch starts that would end past it, judged by the
    /// epoch before (the first always runs). For comparisons at equal training time; the run is then only as
    /// reproducible as the machine's speed.
    #[arg(long, default_value_t = 0.0)]
    pub max_minutes: f64,
    /// Seed for initialization, dropout and shuffling: the same seed and data give the same weights on a device.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of the corpus, from its end, held out for validation (as Keras' validation_split).
    #[arg(long, default_value_t = 0.2)]
    pub val_split: f64,
    /// auto uses CUDA when libtorch sees a GPU; cpu; cuda.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// One JSON object per epoch on stdout (and no progress bar), for scripts.
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    /// The run settings these flags ask for (not yet validated).
    pub fn settings(&self) -> TrainSettings {
        TrainSettings {
            corpus: self.corpus.clone(),
            encoding: self.encoding,
            profile: match self.profile {
                Some(ProfileArg::Seed) => Profile::Seed,
                Some(ProfileArg::Default) => Profile::Default,
                Some(ProfileArg::Cased) => Profile::Cased,
                Some(ProfileArg::Text) => Profile::Text,
                None if matches!(self.level, LevelArg::Bpe) => Profile::Text,
                None => Profile::Default,
            },
            level: self.level.level(),
            max_vocab: self.max_vocab,
            min_count: self.min_count,
            max_sentences: self.max_sentences,
            max_tokens: self.max_tokens,
            context: self.context,
            seq_len: self.seq_len,
            batch: self.batch,
            epochs: self.epochs,
            lr: self.lr,
            clip: self.clip,
            patience: self.patience,
            max_minutes: self.max_minutes,
            seed: self.seed,
            val_split: self.val_split,
            cell: self.cell,
            embed: self.embed,
            hidden: self.hidden,
            layers: self.layers,
            dropout: self.dropout,
            tie: self.tie,
            forcing: self.forcing,
            schedule: crate::forcing::Schedule {
                decay: self.ss_decay,
                k: self.ss_k,
                min: self.ss_min,
            },
            professor: crate::settings::ProfessorSettings {
                len: self.pf_len,
                weight: self.pf_weight,
                converse: self.pf_converse,
                width: self.pf_width,
            },
        }
    }
}

/// Runs `quill train`: validates every setting and the device before any data is read.
pub fn run(args: &TrainArgs) -> Result<()> {
    let settings = args.settings();
    settings.validate()?;
    crate::settings::device(&args.device)?;
    let interrupt = super::interrupt_flag();
    let opts = RunOptions {
        out: args.out.clone(),
        resume: args.resume,
        device: args.device.clone(),
        json: args.json,
        interrupt,
    };
    let outcome = train::run(settings, &opts)?;
    if !args.json {
        if let Some(best) = outcome
            .history
            .iter()
            .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
        {
            eprintln!(
                "best: epoch {} val ppl {:.1}; checkpoint {}; curve {}",
                best.epoch,
                best.val_ppl,
                outcome.best.display(),
                args.out.join("loss.png").display()
            );
        }
    }
    Ok(())
}
