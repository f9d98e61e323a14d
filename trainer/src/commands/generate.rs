//! `quill generate`.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use quill_core::{DType, SamplerConfig};

use crate::checkpoint;
use crate::export;
use crate::generate::{self, GenerateOptions};
use crate::source::Source;

/// Sampling flags.
#[derive(Args, Debug, Clone)]
pub struct SampleArgs {
    /// Softmax temperature; 0 is greedy (argmax, as the seed notebook).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Sample among the k most likely tokens; 0 is off.
    #[arg(long, default_value_t = 0)]
    pub top_k: u32,
    /// Nucleus sampling within the top-k candidates (64 when --top-k is 0); 1 is off.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Penalize tokens seen in the last --penalty-window tokens (divide positive logits); 1 is off.
    #[arg(long, default_value_t = 1.0)]
    pub repetition_penalty: f32,
    /// Tokens the repetition penalty looks back over (≤ 64).
    #[arg(long, default_value_t = 32)]
    pub penalty_window: u16,
    /// Seed of the sampler: same model, prompt, settings and seed give the same text everywhere.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Let the sampler choose the unknown-word token <unk> (by default it never does).
    #[arg(long)]
    pub allow_unk: bool,
}

impl SampleArgs {
    /// As a core sampler config.
    pub fn config(&self) -> SamplerConfig {
        SamplerConfig {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            repetition_penalty: self.repetition_penalty,
            penalty_window: self.penalty_window,
        }
    }
}

/// `quill generate` flags.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Model file from `quill export`, a run folder (its model.quill, else its best checkpoint quantized in
    /// memory), or with --float a checkpoint or run folder.
    pub model: PathBuf,
    /// Text to continue (cleaned and tokenized as the model was trained); echoed as typed.
    #[arg(long, default_value = "")]
    pub prompt: String,
    /// Tokens (words and punctuation marks, characters, or BPE subwords) to generate per text.
    #[arg(long, default_value_t = 50)]
    pub words: usize,
    /// Texts to generate; text i uses seed + i.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Run the libtorch checkpoint in f32 instead of the int8 model through quill-core.
    #[arg(long)]
    pub float: bool,
    /// After each text, print on stderr how it reads as free-running text: distinct-2 and distinct-3, the share
    /// of repeated 4-grams, and where it falls into a loop (the generated tokens, prompt excluded); then the mean.
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub sample: SampleArgs,
}

impl GenerateArgs {
    /// The library's options.
    pub fn options(&self) -> GenerateOptions {
        GenerateOptions {
            prompt: self.prompt.clone(),
            words: self.words,
            count: self.count,
            config: self.sample.config(),
            seed: self.sample.seed,
            allow_unk: self.sample.allow_unk,
            stats: self.stats,
        }
    }
}

/// Runs `quill generate`.
pub fn run(args: &GenerateArgs) -> Result<()> {
    args.sample.config().validate(256).map_err(|e| {
        anyhow::anyhow!("{e}: --temperature ≥ 0, 0 < --top-p ≤ 1, --repetition-penalty ≥ 1, --top-k ≤ 256, --penalty-window ≤ 64")
    })?;
    let opts = args.options();
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    if args.float {
        let path = checkpoint::resolve(&args.model)?;
        if checkpoint::starts_like_model(&path)? {
            bail!("--float runs a checkpoint in libtorch; {} is a model file: drop --float, or pass the run folder", path.display());
        }
        let ck = checkpoint::load(&path, tch::Device::Cpu)?;
        return generate::with_checkpoint(&ck, &opts, &mut out, &mut err);
    }
    match Source::open(&args.model)? {
        Source::Model(bytes, _) => generate::with_core(&bytes, &opts, &mut out, &mut err),
        Source::Checkpoint(path) => {
            eprintln!(
                "note: {} is a checkpoint; generating from it quantized to int8 in memory (`quill export {}` writes the model file)",
                path.display(),
                args.model.display()
            );
            let ck = checkpoint::load(&path, tch::Device::Cpu)?;
            let (builder, _) = export::build(&ck, DType::I8RowScaled)?;
            let bytes = builder
                .to_bytes()
                .context("the quantized model did not validate")?;
            generate::with_core(&bytes, &opts, &mut out, &mut err)
        }
    }
}
