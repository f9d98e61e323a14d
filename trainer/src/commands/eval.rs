//! `quill eval`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use quill_core::Model;

use crate::checkpoint;
use crate::corpus::{self, Encoding};
use crate::data::Context;
use crate::dataset::clean;
use crate::perplexity::{core_loss, evaluate};
use crate::source::Source;
use crate::vocab::{Encoded, Vocabulary};

/// `quill eval` flags.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model file (quill-core, int8), checkpoint (libtorch), or run folder (its model.quill, else best.ckpt).
    pub model: PathBuf,
    /// Text files, folders or globs, cleaned with the model's profile.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// How the files are decoded.
    #[arg(long, value_enum, default_value_t = Encoding::Utf8)]
    pub encoding: Encoding,
    /// Evaluate at most this many tokens.
    #[arg(long, default_value_t = 20_000)]
    pub max_tokens: usize,
    /// Reset the state at every sentence end (as `--context sentence` training).
    #[arg(long)]
    pub sentence: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn head(enc: Encoded, n: usize) -> Encoded {
    Encoded {
        ids: enc.ids[..n].to_vec(),
        sentence_end: enc.sentence_end[..n].to_vec(),
        unknown: enc.unknown,
    }
}

/// Runs `quill eval`: the loss, perplexity (and for checkpoints accuracy) of a model on text files.
pub fn run(args: &EvalArgs) -> Result<()> {
    let raw = corpus::read_all(&corpus::expand(&args.files)?, args.encoding)?;
    let source = Source::open(&args.model)?;
    let (loss, accuracy, n, engine) = match &source {
        Source::Model(bytes, _) => {
            let model = Model::from_bytes(bytes)?;
            let spec = model.tokenizer();
            let tokens = model.vocab().iter().map(String::from).collect();
            let vocab = Vocabulary::from_tokens(tokens, spec.level, spec.profile);
            let enc = vocab.encode(&clean(spec.profile, &raw));
            let n = enc.ids.len().min(args.max_tokens);
            let enc = head(enc, n);
            let loss = core_loss(&model, false, &enc.ids, &enc.sentence_end, args.sentence)?;
            (loss, None, n, "quill-core int8")
        }
        Source::Checkpoint(path) => {
            let ck = checkpoint::load(path, tch::Device::Cpu)?;
            let enc = ck.meta.vocab.encode(&clean(ck.meta.vocab.profile, &raw));
            let n = enc.ids.len().min(args.max_tokens);
            let context = if args.sentence {
                Context::Sentence
            } else {
                Context::Stream
            };
            let s = &ck.meta.settings;
            let (loss, acc) = evaluate(
                &ck.net,
                &head(enc, n),
                context,
                1,
                s.seq_len,
                tch::Device::Cpu,
            );
            (loss, Some(acc), n, "libtorch f32")
        }
    };
    if args.json {
        let j = serde_json::json!({"tokens": n, "loss": loss, "perplexity": loss.exp(), "accuracy": accuracy,
                                   "engine": engine, "model": source.path()});
        println!("{j}");
    } else {
        let acc = accuracy
            .map(|a| format!(", accuracy {a:.3}"))
            .unwrap_or_default();
        println!(
            "{n} tokens ({engine}, {}): loss {loss:.4}, perplexity {:.2}{acc}",
            source.path().display(),
            loss.exp()
        );
    }
    Ok(())
}
