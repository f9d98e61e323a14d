//! `quill study`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::commands::train::LevelArg;
use crate::study::plan::{parse_list, Overrides, Plan, Size};
use crate::study::{self, StudyOptions};

/// `quill study` flags.
#[derive(Args, Debug)]
pub struct StudyArgs {
    /// Corpus: text files, folders (every .txt below) or quoted globs.
    #[arg(required = true)]
    pub corpus: Vec<String>,
    /// Study folder: runs/<arm>/, reference/, study.md, study.json, study.png, samples/. Running the same
    /// command again keeps finished runs and resumes an interrupted one.
    #[arg(long, default_value = "runs/study")]
    pub out: PathBuf,
    /// Preset: `small` (first 5,000 sentences, H=128, 3 epochs; under ~30 min on a 2-core CPU) or `full`
    /// (whole corpus, H=256, 8 epochs; for a GPU).
    #[arg(long, value_enum, default_value_t = Size::Small)]
    pub size: Size,
    /// Cells to compare, comma-separated.
    #[arg(long, default_value = "lstm,gru")]
    pub cells: String,
    /// Forcings to compare, comma-separated: teacher, scheduled (ε from 1 to ½ at half of training, inverse
    /// sigmoid), professor.
    #[arg(long, default_value = "teacher,scheduled,professor")]
    pub forcings: String,
    /// Token levels to compare, comma-separated.
    #[arg(long, default_value = "char,word")]
    pub levels: String,
    /// Prompts from the held-out text: each arm writes this many samples greedily and as many at temperature 1.
    #[arg(long, default_value_t = 20)]
    pub samples: usize,
    /// Words measured per sample (a word model writes this many tokens; a char model as many characters as it
    /// takes to write them).
    #[arg(long, default_value_t = 300)]
    pub sample_words: usize,
    /// Epochs of every run (default: the preset's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Keep the first N sentences of the corpus, 0 all (default: the preset's).
    #[arg(long)]
    pub max_sentences: Option<usize>,
    /// Embedding width of every arm (default: the preset's, per level).
    #[arg(long)]
    pub embed: Option<i64>,
    /// Hidden width of every arm (default: the preset's).
    #[arg(long)]
    pub hidden: Option<i64>,
    /// Hidden width of the reference model (default: twice --hidden).
    #[arg(long)]
    pub reference_hidden: Option<i64>,
    /// Scheduled sampling: the floor of ε, the share of ground-truth inputs (0 lets the inputs become all the
    /// model's own by the end; 0.75 keeps at most a quarter its own).
    #[arg(long, default_value_t = 0.0)]
    pub ss_min: f64,
    /// Professor Forcing: the weight of the adversarial term (1 weighs it as the NLL, as the paper).
    #[arg(long, default_value_t = 1.0)]
    pub pf_weight: f64,
    /// auto uses CUDA when libtorch sees a GPU; cpu; cuda.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Runs `quill study`: the plan is checked whole before any data is read.
pub fn run(args: &StudyArgs) -> Result<()> {
    let levels: Vec<quill_core::Level> = parse_list::<LevelArg>("levels", &args.levels)?
        .into_iter()
        .map(LevelArg::level)
        .collect();
    let plan = Plan::new(
        &args.corpus,
        args.size,
        &parse_list("cells", &args.cells)?,
        &parse_list("forcings", &args.forcings)?,
        &levels,
        &Overrides {
            epochs: args.epochs,
            max_sentences: args.max_sentences,
            embed: args.embed,
            hidden: args.hidden,
            reference_hidden: args.reference_hidden,
            ss_min: Some(args.ss_min),
            pf_weight: Some(args.pf_weight),
        },
    )?;
    if args.samples < 2 || args.sample_words < 8 {
        bail!("--samples must be at least 2 and --sample-words at least 8 (the means need them)");
    }
    crate::settings::device(&args.device)?;
    let interrupt = super::interrupt_flag();
    let opts = StudyOptions {
        out: args.out.clone(),
        device: args.device.clone(),
        samples: args.samples,
        sample_words: args.sample_words,
        interrupt,
    };
    let report = study::run(&plan, &opts)?;
    eprintln!(
        "study: {} arms measured in {:.1} min; table {}, chart {}",
        report.arms.len(),
        report.seconds / 60.0,
        args.out.join("study.md").display(),
        args.out.join("study.png").display()
    );
    Ok(())
}
