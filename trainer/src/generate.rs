//! Text from a model: through quill-core (a model file, what the board runs) or through libtorch (a checkpoint in
//! f32, `--float`), with the same prompt handling, sampler and detokenizer, so the two differ only by arithmetic.

use std::io::Write;

use anyhow::Result;
use quill_core::sampler::{Penalty, Rng, Selector};
use quill_core::text::{pieces, Detokenizer};
use quill_core::{Generator, Model, SamplerConfig, Unknown};

use crate::checkpoint::Checkpoint;
use crate::dataset::clean;

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
    /// Print free-running measures of each text on `err` ([`crate::freerun`]).
    pub stats: bool,
}

/// Free-running measures of one generated text (its token ids, prompt excluded).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TextStats {
    /// Distinct bigrams / bigrams.
    pub distinct2: f64,
    /// Distinct trigrams / trigrams.
    pub distinct3: f64,
    /// Share of 4-grams seen earlier in the text.
    pub repeated4: f64,
    /// Tokens before the text falls into a loop (`None`: it does not).
    pub loop_after: Option<usize>,
}

impl TextStats {
    /// The measures of `ids`.
    pub fn of(ids: &[u32]) -> Self {
        use crate::freerun::{distinct_n, repeated_ngrams, tokens_before_loop};
        Self {
            distinct2: distinct_n(ids, 2),
            distinct3: distinct_n(ids, 3),
            repeated4: repeated_ngrams(ids, 4),
            loop_after: tokens_before_loop(ids),
        }
    }
}

fn report_stats(err: &mut dyn Write, all: &[TextStats], words: usize) -> Result<()> {
    let line = |s: &TextStats| {
        let lp = s
            .loop_after
            .map_or(format!("no loop in {words} tokens"), |n| {
                format!("loops after {n} tokens")
            });
        format!(
            "distinct-2 {:.3}, distinct-3 {:.3}, repeated 4-grams {:.3}, {lp}",
            s.distinct2, s.distinct3, s.repeated4
        )
    };
    if let Some(last) = all.last() {
        writeln!(err, "stats: {}", line(last))?;
    }
    Ok(())
}

fn report_mean(err: &mut dyn Write, all: &[TextStats], words: usize) -> Result<()> {
    if all.len() < 2 {
        return Ok(());
    }
    let n = all.len() as f64;
    let mean = |f: fn(&TextStats) -> f64| all.iter().map(f).sum::<f64>() / n;
    let loops: Vec<usize> = all.iter().filter_map(|s| s.loop_after).collect();
    let before = if loops.is_empty() {
        String::new()
    } else {
        format!(
            ", after {:.1} tokens on average",
            loops.iter().sum::<usize>() as f64 / loops.len() as f64
        )
    };
    writeln!(
        err,
        "stats over {} texts of {words} tokens: distinct-2 {:.3}, distinct-3 {:.3}, repeated 4-grams {:.3}, {} loop{before}",
        all.len(),
        mean(|s| s.distinct2),
        mean(|s| s.distinct3),
        mean(|s| s.repeated4),
        loops.len()
    )?;
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
        if opts.stats {
            stats.push(TextStats::of(&ids));
            report_stats(err, &stats, opts.words)?;
        }
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
            detok.write(&vocab.tokens[id as usize], &mut text)?;
            write!(out, "{text}")?;
            out.flush()?;
            (logits, state) = ck.net.step_logits(&state, id)?;
            penalty.record(id, window);
        }
        writeln!(out)?;
        if opts.stats {
            stats.push(TextStats::of(&generated));
            report_stats(err, &stats, opts.words)?;
        }
    }
    report_mean(err, &stats, opts.words)
}
