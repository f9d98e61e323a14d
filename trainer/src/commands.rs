//! The subcommands: argument structs (clap derive) and what each one does.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use quill_core::{DType, Generator, Level, Model, Profile, SamplerConfig};

use crate::checkpoint;
use crate::corpus::{self, Encoding};
use crate::data::Context;
use crate::export;
use crate::train::{self, RunOptions, TrainSettings};

/// Cleaning profile names on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProfileArg {
    /// The seed notebook's regex, exactly.
    Seed,
    /// A writer's cleaning: punctuation as tokens, quotes/dashes normalized, hyphenation joined.
    Default,
}

/// Token level names on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LevelArg {
    /// Words and punctuation marks.
    Word,
    /// Characters.
    Char,
}

/// `quill train`.
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
    /// Cleaning profile.
    #[arg(long, value_enum, default_value_t = ProfileArg::Default)]
    pub profile: ProfileArg,
    /// Token level.
    #[arg(long, value_enum, default_value_t = LevelArg::Word)]
    pub level: LevelArg,
    /// Most tokens in the vocabulary, <unk> included.
    #[arg(long, default_value_t = 10_000)]
    pub max_vocab: usize,
    /// Least occurrences for a token to enter the vocabulary.
    #[arg(long, default_value_t = 1)]
    pub min_count: usize,
    /// Keep only the first N sentences (the seed kept 10,000); 0 keeps all.
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
    /// Embedding width E.
    #[arg(long, default_value_t = 100)]
    pub embed: i64,
    /// LSTM hidden width H.
    #[arg(long, default_value_t = 150)]
    pub hidden: i64,
    /// Stacked LSTM layers (quill-core runs up to 4).
    #[arg(long, default_value_t = 1)]
    pub layers: i64,
    /// Dropout on the embedding and LSTM outputs while training.
    #[arg(long, default_value_t = 0.2)]
    pub dropout: f64,
    /// Tie the dense weights to the embedding (needs --embed = --hidden; halves the big matrices).
    #[arg(long)]
    pub tie: bool,
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
    /// Seed for initialization, dropout and shuffling: the same seed and data give the same weights on a device.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of the corpus, from its end, held out for validation (as Keras' validation_split).
    #[arg(long, default_value_t = 0.2)]
    pub val_split: f64,
    /// auto uses CUDA when libtorch sees a GPU.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// One JSON object per epoch on stdout (and no progress bar), for scripts.
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    fn settings(&self) -> TrainSettings {
        TrainSettings {
            corpus: self.corpus.clone(),
            encoding: self.encoding,
            profile: match self.profile {
                ProfileArg::Seed => Profile::Seed,
                ProfileArg::Default => Profile::Default,
            },
            level: match self.level {
                LevelArg::Word => Level::Word,
                LevelArg::Char => Level::Char,
            },
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
            seed: self.seed,
            val_split: self.val_split,
            embed: self.embed,
            hidden: self.hidden,
            layers: self.layers,
            dropout: self.dropout,
            tie: self.tie,
        }
    }
}

/// Runs `quill train`.
pub fn train(args: &TrainArgs) -> Result<()> {
    if !(0.0..1.0).contains(&args.val_split) || args.val_split == 0.0 {
        bail!("--val-split must be in (0, 1), got {}", args.val_split);
    }
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    // Ctrl-C: the loop notices, saves and exits; a second Ctrl-C kills as usual.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    let opts = RunOptions {
        out: args.out.clone(),
        resume: args.resume,
        device: args.device.clone(),
        json: args.json,
        interrupt,
    };
    let outcome = train::run(args.settings(), &opts)?;
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

/// `quill export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Checkpoint file, or a run folder (its best.ckpt).
    pub checkpoint: PathBuf,
    /// Model file to write.
    #[arg(short, long, default_value = "model.quill")]
    pub output: PathBuf,
    /// Store f32 weights instead of int8 (reference files for the float path; the int8 path refuses them).
    #[arg(long)]
    pub float: bool,
    /// Validation tokens used for the float vs int8 perplexity comparison; 0 skips it.
    #[arg(long, default_value_t = 5000)]
    pub eval_tokens: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Approximate RAM of `Generator<D, L, K>` for a model (D = the wider of E and H rounded up to 32): h and c per
/// layer, gates, two quantized vectors, the float input, the top-k slots (2·K × 8 bytes), the penalty window
/// (64 ids and their sorted copy) and ~200 bytes of the rest. Within 2% of `size_of` (tested).
pub fn generator_ram(e: usize, h: usize, layers: usize, k: usize) -> usize {
    let d = e.max(h).div_ceil(32) * 32;
    2 * layers * d * 4 + 4 * d * 4 + 2 * (4 * d + 72) + 4 * d + 16 * k + 2 * 64 * 4 + 200
}

#[cfg(test)]
mod tests {
    use super::generator_ram;
    use quill_core::Generator;

    #[test]
    fn generator_ram_tracks_size_of() {
        for (estimate, actual) in [
            (
                generator_ram(100, 150, 1, 64),
                size_of::<Generator<160, 1, 64>>(),
            ),
            (
                generator_ram(128, 128, 1, 64),
                size_of::<Generator<128, 1, 64>>(),
            ),
            (
                generator_ram(64, 64, 2, 8),
                size_of::<Generator<64, 2, 8>>(),
            ),
        ] {
            let off = estimate.abs_diff(actual) as f64 / actual as f64;
            assert!(off < 0.02, "estimate {estimate} vs size_of {actual}");
        }
    }
}

/// Runs `quill export`.
pub fn export(args: &ExportArgs) -> Result<()> {
    let path = train::resolve_checkpoint(&args.checkpoint);
    let ck = checkpoint::load(&path, tch::Device::Cpu)?;
    let dtype = if args.float {
        DType::F32
    } else {
        DType::I8RowScaled
    };
    let (builder, errors) = export::build(&ck, dtype)?;
    let bytes = builder
        .to_bytes()
        .context("the exported model did not validate")?;
    export::write(&args.output, &bytes)?;
    let model = Model::from_bytes(&bytes)?;
    let hy = model.hyper();
    let sentence = ck.meta.settings.context == Context::Sentence;
    let n = args.eval_tokens.min(ck.val_tokens.len());
    let (toks, ends) = (&ck.val_tokens[..n], &ck.val_ends[..n]);
    let (float_ppl, core_ppl) = if n > 1 {
        let f = export::float_loss(&ck.net, toks, ends, sentence).exp();
        let q = export::core_loss(&model, args.float, toks, ends, sentence)?.exp();
        (Some(f), Some(q))
    } else {
        (None, None)
    };
    let ram = generator_ram(
        hy.embed as usize,
        hy.hidden as usize,
        hy.layers as usize,
        64,
    );
    let report = serde_json::json!({
        "output": args.output, "bytes": bytes.len(), "dtype": format!("{dtype:?}"),
        "vocab": hy.vocab, "embed": hy.embed, "hidden": hy.hidden, "layers": hy.layers, "tied": model.tied(),
        "parameters": model.parameter_count(), "flash_bytes": bytes.len(), "ram_bytes_approx": ram,
        "bytes_read_per_token": model.bytes_per_token(),
        "quantization_error": errors, "eval_tokens": n,
        "val_ppl_libtorch_f32": float_ppl, "val_ppl_core": core_ppl,
    });
    if args.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "wrote {} ({} bytes, {:?})",
        args.output.display(),
        bytes.len(),
        dtype
    );
    println!(
        "  V={} E={} H={} layers={} tied={} parameters={}",
        hy.vocab,
        hy.embed,
        hy.hidden,
        hy.layers,
        model.tied(),
        model.parameter_count()
    );
    println!("  flash: {} bytes (the file, read in place); RAM: ~{} bytes of generator state (top-k ≤ 64)", bytes.len(), ram);
    println!("  quantization error per tensor (max |Δw| / max |w|, rms Δw / rms w):");
    for e in &errors {
        println!(
            "    {:<22} {:>8.4}% {:>8.4}%",
            e.name,
            100.0 * e.max_rel,
            100.0 * e.rms_rel
        );
    }
    if let (Some(f), Some(q)) = (float_ppl, core_ppl) {
        let label = if args.float {
            "quill-core f32"
        } else {
            "quill-core int8"
        };
        println!(
            "  validation perplexity on {n} tokens: libtorch f32 {f:.2} | {label} {q:.2} ({:+.2}%)",
            100.0 * (q / f - 1.0)
        );
    }
    Ok(())
}

/// Sampling flags shared by `generate`.
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

/// `quill generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Model file from `quill export` (or, with --float, a checkpoint or run folder).
    pub model: PathBuf,
    /// Text to continue (cleaned and tokenized as the model was trained).
    #[arg(long, default_value = "")]
    pub prompt: String,
    /// Tokens (words and punctuation marks, or characters) to generate per text.
    #[arg(long, default_value_t = 50)]
    pub words: usize,
    /// Texts to generate; text i uses seed + i.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Run the libtorch checkpoint in f32 instead of the int8 model through quill-core.
    #[arg(long)]
    pub float: bool,
    #[command(flatten)]
    pub sample: SampleArgs,
}

/// Generates text from a model file through quill-core into `out`, streaming token by token.
pub fn generate_core(
    bytes: &[u8],
    args: &GenerateArgs,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Result<()> {
    let model = Model::from_bytes(bytes)?;
    for i in 0..args.count {
        let mut g: Box<Generator<1024, 4, 256>> = Box::new(Generator::new(
            &model,
            args.sample.config(),
            args.sample.seed + i as u64,
        )?);
        let mut text = String::new();
        let mut unknown = Vec::new();
        g.prime(&args.prompt, &mut text, |w| unknown.push(w.to_string()))?;
        if !unknown.is_empty() {
            writeln!(
                err,
                "note: prompt words not in the vocabulary ({}): {}",
                unknown.len(),
                unknown.join(", ")
            )?;
        }
        write!(out, "{text}")?;
        for _ in 0..args.words {
            let id = g.next_token();
            text.clear();
            g.write_token(id, &mut text)?;
            write!(out, "{text}")?;
            out.flush()?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Generates with the libtorch checkpoint (float), sampling with the same core selector.
fn generate_float(args: &GenerateArgs) -> Result<()> {
    let ck = checkpoint::load(&train::resolve_checkpoint(&args.model), tch::Device::Cpu)?;
    let vocab = &ck.meta.vocab;
    let spec = vocab.spec();
    let mut out = std::io::stdout().lock();
    for i in 0..args.count {
        let mut rng = quill_core::Rng::new(args.sample.seed + i as u64);
        let mut sel = quill_core::Selector::<256>::new(args.sample.config())?;
        let mut penalty = quill_core::Penalty::default();
        let mut detok = quill_core::text::Detokenizer::new(&spec);
        let (mut a, mut b) = (String::new(), String::new());
        let norm = quill_core::text::normalize(spec.profile, &args.prompt, &mut a, &mut b)
            .map_err(|_| anyhow::anyhow!("prompt"))?;
        let enc = vocab.encode(norm);
        let mut state = ck.net.zero_state(1);
        let mut logits = Vec::new();
        let mut text = String::new();
        let window = usize::from(args.sample.penalty_window);
        let feed = |tok: u32, state: &crate::net::State| train::step_logits(&ck.net, state, tok);
        for &t in &enc.ids {
            (logits, state) = feed(t, &state);
            penalty.record(t, window);
            detok.write(&vocab.tokens[t as usize], &mut text)?;
        }
        write!(out, "{text}")?;
        if enc.ids.is_empty() {
            // No prompt: like quill-core, the first logits come from the zero state, i.e. the dense bias.
            let bias = ck
                .net
                .vs
                .variables()
                .remove("dense.bias")
                .context("checkpoint lacks dense.bias")?;
            logits = Vec::<f32>::try_from(bias.to_kind(tch::Kind::Float))?;
        }
        for _ in 0..args.words {
            sel.begin();
            penalty.apply_block(0, &mut logits, args.sample.repetition_penalty);
            // All logits at once: the selector takes them in the same 64-row blocks as quill-core.
            sel.push_block(0, &logits, &mut rng);
            let id = sel.finish(&mut rng);
            text.clear();
            detok.write(&vocab.tokens[id as usize], &mut text)?;
            write!(out, "{text}")?;
            out.flush()?;
            (logits, state) = feed(id, &state);
            penalty.record(id, window);
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Runs `quill generate`.
pub fn generate(args: &GenerateArgs) -> Result<()> {
    if args.float {
        return generate_float(args);
    }
    let bytes = read_model(&args.model)?;
    generate_core(
        &bytes,
        args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr(),
    )
}

fn read_model(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading model {}", path.display()))?;
    if !bytes.starts_with(b"QUIL") {
        bail!("{} is not a quill model file; export one with `quill export CHECKPOINT -o model.quill` (or pass --float to run a checkpoint)", path.display());
    }
    Ok(bytes)
}

/// `quill eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model file (quill-core, int8) or checkpoint / run folder (libtorch).
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

/// Runs `quill eval`.
pub fn eval(args: &EvalArgs) -> Result<()> {
    let raw = corpus::read_all(&corpus::expand(&args.files)?, args.encoding)?;
    let is_model = std::fs::read(&args.model)
        .map(|b| b.starts_with(b"QUIL"))
        .unwrap_or(false);
    let (loss, correct_of, n, kind) = if is_model {
        let bytes = read_model(&args.model)?;
        let model = Model::from_bytes(&bytes)?;
        let spec = model.tokenizer();
        let vocab = crate::vocab::Vocabulary::from_tokens(
            model.vocab().iter().map(String::from).collect(),
            spec.level,
            spec.profile,
        );
        let enc = vocab.encode(&crate::clean::clean(spec.profile, &raw));
        let n = enc.ids.len().min(args.max_tokens);
        let loss = export::core_loss(
            &model,
            false,
            &enc.ids[..n],
            &enc.sentence_end[..n],
            args.sentence,
        )?;
        (loss, None, n, "quill-core int8")
    } else {
        let ck = checkpoint::load(&train::resolve_checkpoint(&args.model), tch::Device::Cpu)?;
        let enc = ck
            .meta
            .vocab
            .encode(&crate::clean::clean(ck.meta.vocab.profile, &raw));
        let n = enc.ids.len().min(args.max_tokens);
        let sub = crate::vocab::Encoded {
            ids: enc.ids[..n].to_vec(),
            sentence_end: enc.sentence_end[..n].to_vec(),
            unknown: 0,
        };
        let mut s = ck.meta.settings.clone();
        s.context = if args.sentence {
            Context::Sentence
        } else {
            Context::Stream
        };
        s.batch = 1;
        let (loss, acc) = train::evaluate(&ck.net, &sub, &s, tch::Device::Cpu);
        (loss, Some(acc), n, "libtorch f32")
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({"tokens": n, "loss": loss, "perplexity": loss.exp(), "accuracy": correct_of, "engine": kind})
        );
    } else {
        let acc = correct_of
            .map(|a| format!(", accuracy {:.3}", a))
            .unwrap_or_default();
        println!(
            "{n} tokens ({kind}): loss {loss:.4}, perplexity {:.2}{acc}",
            loss.exp()
        );
    }
    Ok(())
}

/// `quill inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Model file or checkpoint.
    pub path: PathBuf,
}

/// Runs `quill inspect`.
pub fn inspect(args: &InspectArgs) -> Result<()> {
    let bytes =
        std::fs::read(&args.path).with_context(|| format!("reading {}", args.path.display()))?;
    if bytes.starts_with(b"QUIL") {
        let m = Model::from_bytes(&bytes)?;
        let hy = m.hyper();
        println!(
            "quill model {} (format v{})",
            args.path.display(),
            quill_core::FORMAT_VERSION
        );
        println!("  bytes: {}  crc ok", bytes.len());
        println!(
            "  V={} E={} H={} layers={} tied={} quantized={}",
            hy.vocab,
            hy.embed,
            hy.hidden,
            hy.layers,
            m.tied(),
            m.is_quantized()
        );
        println!(
            "  parameters: {}  bytes read per token: {}",
            m.parameter_count(),
            m.bytes_per_token()
        );
        println!("  tokenizer: {:?}", m.tokenizer());
        let first: Vec<&str> = m.vocab().iter().take(12).collect();
        println!("  vocabulary: {:?} ...", first);
        println!("  meta: {}", m.meta());
    } else {
        let ck = checkpoint::load(&train::resolve_checkpoint(&args.path), tch::Device::Cpu)?;
        println!("quill checkpoint {}", args.path.display());
        println!("  net: {:?}", ck.meta.net);
        println!("  parameters: {}", ck.net.parameter_count());
        println!(
            "  epochs done: {}  best val: {:?}  interrupted: {}",
            ck.meta.epochs_done, ck.meta.best_val, ck.meta.interrupted
        );
        println!(
            "  vocab: {} tokens, {:?}/{:?}",
            ck.meta.vocab.len(),
            ck.meta.vocab.level,
            ck.meta.vocab.profile
        );
        println!("  settings: {}", serde_json::to_string(&ck.meta.settings)?);
    }
    Ok(())
}
