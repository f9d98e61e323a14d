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
        unknown: enc.unknown,
        ..enc.slice(0..n)
    }
}

/// Runs `quill eval`: the loss, perplexity (and for checkpoints accuracy) of a model on text files.
pub fn run(args: &EvalArgs) -> Result<()> {
    let raw = corpus::read_all(&corpus::expand(&args.files)?, args.encoding)?;
    let source = Source::open(&args.model)?;
    let (loss, accuracy, n, chars, engine) = match &source {
        Source::Model(bytes, _) => {
            let model = Model::from_bytes(bytes)?;
            let spec = model.tokenizer();
            let vocab = Vocabulary::from_model(&model);
            let enc = vocab.encode(&clean(spec.profile, &raw));
            let n = enc.ids.len().min(args.max_tokens);
            let enc = head(enc, n);
            let loss = core_loss(&model, false, &enc.ids, &enc.sentence_end, args.sentence)?;
            (loss, None, n, enc.char_count(), "quill-core int8")
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
            let enc = head(enc, n);
            let (loss, acc) = evaluate(&ck.net, &enc, context, 1, s.seq_len, tch::Device::Cpu);
            (loss, Some(acc), n, enc.char_count(), "libtorch f32")
        }
    };
    // Bits per character: the NLL of the tokens over the characters of cleaned text they stand for.
    let bpc = loss * n as f64 / (chars.max(1) as f64) / std::f64::consts::LN_2;
    if args.json {
        let j = serde_json::json!({"tokens": n, "chars": chars, "loss": loss, "perplexity": loss.exp(),
                                   "bits_per_char": bpc, "accuracy": accuracy,
                                   "engine": engine, "model": source.path()});
        println!("{j}");
    } else {
        let acc = accuracy
            .map(|a| format!(", accuracy {a:.3}"))
            .unwrap_or_default();
        println!(
            "{n} tokens, {chars} characters ({engine}, {}): loss {loss:.4}, perplexity {:.2}, {bpc:.3} bits/char{acc}",
            source.path().display(),
            loss.exp()
        );
    }
    Ok(())
}
