//! Text from a model: through quill-core (a model file, what the board runs) or through libtorch (a checkpoint in
//! f32, `--float`), with the same prompt handling, sampler and detokenizer, so the two differ only by arithmetic.

use std::io::Write;

use anyhow::Result;
use quill_core::sampler::{Penalty, Rng, Selector};
use quill_core::text::{pieces, Detokenizer};
use quill_core::{Generator, Level, Model, SamplerConfig, Unknown};

use crate::checkpoint::Checkpoint;
use crate::dataset::clean;
use crate::freerun::TextStats;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Text to continue, normalized and tokenized as the model was trained.
    pub prompt: String,
    /// Tokens to generate per text.
    pub words: usize,
    /// Texts to generate; text `i` uses `seed + i`.
    pub count: usize,
    /// Sampler settings.
    pub config: SamplerConfig,
    /// Seed of the first text.
    pub seed: u64,
    /// Let the sampler choose `<unk>` (by default it never does).
    pub allow_unk: bool,
    /// Print free-running measures of each text on `err` ([`TextStats`]).
    pub stats: bool,
}

/// Measures `ids` (one generated text) into `all` and prints its line on `err`, when asked for.
fn note_stats(
    opts: &GenerateOptions,
    err: &mut dyn Write,
    all: &mut Vec<TextStats>,
    ids: &[u32],
) -> Result<()> {
    if opts.stats {
        let s = TextStats::of(ids);
        writeln!(err, "stats: {}", s.describe(opts.words))?;
        all.push(s);
    }
    Ok(())
}

/// The mean over several texts, when there are several.
fn report_mean(err: &mut dyn Write, all: &[TextStats], words: usize) -> Result<()> {
    if let Some(line) = TextStats::summary(all, words) {
        writeln!(err, "{line}")?;
    }
    Ok(())
}

fn report_unknown(err: &mut dyn Write, unknown: &[String]) -> Result<()> {
    if !unknown.is_empty() {
        writeln!(
            err,
            "note: prompt words not in the vocabulary ({}): {}",
            unknown.len(),
            unknown.join(", ")
        )?;
    }
    Ok(())
}

/// Generates from model-file bytes through quill-core, streaming token by token into `out`.
pub fn with_core(
    bytes: &[u8],
    opts: &GenerateOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let model = Model::from_bytes(bytes)?;
    let mut stats = Vec::new();
    for i in 0..opts.count {
        let mut g: Box<Generator<1024, 4, 256>> = Box::new(
            Generator::new(&model, opts.config, opts.seed + i as u64)?
                .allow_unknown(opts.allow_unk),
        );
        let mut text = String::new();
        let mut unknown = Vec::new();
        g.prime(&opts.prompt, &mut text, |w| unknown.push(w.to_string()))?;
        report_unknown(err, &unknown)?;
        write!(out, "{text}")?;
        let mut ids = Vec::with_capacity(opts.words);
        for _ in 0..opts.words {
            let id = g.next_token();
            ids.push(id);
            text.clear();
            g.write_token(id, &mut text)?;
            write!(out, "{text}")?;
            out.flush()?;
        }
        writeln!(out)?;
        note_stats(opts, err, &mut stats, &ids)?;
    }
    report_mean(err, &stats, opts.words)
}

/// Generates with a checkpoint in f32 through libtorch, choosing with quill-core's sampler in the same 64-row
/// blocks as the generator, so a float-vs-int8 difference in the text is one of arithmetic alone.
pub fn with_checkpoint(
    ck: &Checkpoint,
    opts: &GenerateOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let vocab = &ck.meta.vocab;
    let spec = vocab.spec();
    let banned = match spec.unknown {
        Unknown::Map(unk) if !opts.allow_unk => Some(unk),
        _ => None,
    };
    let window = usize::from(opts.config.penalty_window);
    let normalized = clean(spec.profile, &opts.prompt);
    let mut stats = Vec::new();
    for i in 0..opts.count {
        let mut rng = Rng::new(opts.seed + i as u64);
        let mut sel = Selector::<256>::new(opts.config)?.ban(banned);
        let mut penalty = Penalty::default();
        let mut detok = Detokenizer::new(&spec);
        let mut state = ck.net.zero_state(1);
        // No prompt: like quill-core, the first logits come from the zero state, i.e. the dense bias.
        let mut logits = ck.net.dense_bias()?;
        let (mut text, mut unknown, mut ids) = (String::new(), Vec::new(), Vec::new());
        if spec.level == Level::Bpe {
            // Every text has tokens: the merges' encoding of the whole prompt, echoed as it is.
            detok.write(&normalized, &mut text)?;
            ids = vocab.encode(&normalized).ids;
        } else {
            pieces(spec.level, spec.profile, &normalized, |p| {
                // Echo as typed; feed the token, `<unk>`, or nothing, as the model's policy says.
                let _ = detok.write(p.text, &mut text);
                match (vocab.id(p.text), spec.unknown) {
                    (Some(id), _) => ids.push(id),
                    (None, policy) => {
                        unknown.push(p.text.to_string());
                        if let Unknown::Map(unk) = policy {
                            ids.push(unk);
                        }
                    }
                }
            });
        }
        for &t in &ids {
            (logits, state) = ck.net.step_logits(&state, t)?;
            penalty.record(t, window);
        }
        report_unknown(err, &unknown)?;
        write!(out, "{text}")?;
        let mut generated = Vec::with_capacity(opts.words);
        for _ in 0..opts.words {
            sel.begin();
            penalty.apply_block(0, &mut logits, opts.config.repetition_penalty);
            sel.push_block(0, &logits, &mut rng);
            let id = sel.finish(&mut rng);
            generated.push(id);
            text.clear();
            detok.write_bytes(&vocab.token_bytes(id), &mut text)?;
            write!(out, "{text}")?;
            out.flush()?;
            (logits, state) = ck.net.step_logits(&state, id)?;
            penalty.record(id, window);
        }
        writeln!(out)?;
        note_stats(opts, err, &mut stats, &generated)?;
    }
    report_mean(err, &stats, opts.words)
}
