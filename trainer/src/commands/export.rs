//! `quill export`.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use quill_core::{DType, Model};

use crate::data::Context;
use crate::export::{self, generator_ram, Weights};
use crate::perplexity::{core_loss, float_loss};
use crate::{atomic, checkpoint};

/// `quill export` flags.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Checkpoint file, or a run folder (its best.ckpt).
    pub checkpoint: PathBuf,
    /// Model file to write.
    #[arg(short, long, default_value = "model.quill")]
    pub output: PathBuf,
    /// Store f32 weights instead of int8 (reference files for the float path; the int8 path refuses them): the
    /// same as `--weights f32`.
    #[arg(long)]
    pub float: bool,
    /// Weight storage: `int8` (default), `int4` (4-bit, a 6-bit multiplier per 32 columns: about half the bytes),
    /// `f32`, or per role, e.g. `dense=int4,embedding=int4` (roles: embedding, recurrent, dense; unnamed ones int8).
    #[arg(long, default_value = "int8")]
    pub weights: String,
    /// How int4 groups choose their multipliers: `search` (least squared error, default) or `max` (the
    /// largest weight exact: plain rounding).
    #[arg(long, default_value = "search")]
    pub int4_scale: String,
    /// Validation tokens used for the float vs quantized perplexity comparison; 0 skips it.
    #[arg(long, default_value_t = 5000)]
    pub eval_tokens: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `quill export`: writes the file atomically, then reports its size, RAM, errors and perplexities.
pub fn run(args: &ExportArgs) -> Result<()> {
    let mut weights = if args.float {
        Weights::uniform(DType::F32)
    } else {
        Weights::parse(&args.weights)?
    };
    weights.int4 = match args.int4_scale.as_str() {
        "search" => quill_core::Int4Scale::Search,
        "max" => quill_core::Int4Scale::Max,
        other => anyhow::bail!("--int4-scale {other}: use search or max"),
    };
    let ck = checkpoint::load(&checkpoint::resolve(&args.checkpoint)?, tch::Device::Cpu)?;
    let float_file = weights.dense == DType::F32;
    let (builder, errors) = export::build_with(&ck, weights)?;
    let bytes = builder
        .to_bytes()
        .context("the exported model did not validate")?;
    atomic::write(&args.output, &bytes)?;
    let model = Model::from_bytes(&bytes)?;
    let hy = model.hyper();
    let sentence = ck.meta.settings.context == Context::Sentence;
    let n = args.eval_tokens.min(ck.val_tokens.len());
    let (toks, ends) = (&ck.val_tokens[..n], &ck.val_ends[..n]);
    let (float_ppl, core_ppl) = if n > 1 {
        let f = float_loss(&ck.net, toks, ends, sentence)?.exp();
        let q = core_loss(&model, float_file, toks, ends, sentence)?.exp();
        (Some(f), Some(q))
    } else {
        (None, None)
    };
    // With int4 anywhere, the all-int8 file's perplexity too, so the cost of the 4 bits is one line away.
    let int8_ppl = if n > 1 && weights.has_int4() {
        let (b, _) = export::build(&ck, DType::I8RowScaled)?;
        let bytes8 = b.to_bytes()?;
        let m8 = Model::from_bytes(&bytes8)?;
        Some((
            core_loss(&m8, false, toks, ends, sentence)?.exp(),
            bytes8.len(),
        ))
    } else {
        None
    };
    let desc = weights.describe();
    let ram = generator_ram(
        hy.embed as usize,
        hy.hidden as usize,
        hy.layers as usize,
        64,
    );
    if args.json {
        let report = serde_json::json!({
            "output": args.output, "bytes": bytes.len(), "weights": desc,
            "vocab": hy.vocab, "embed": hy.embed, "hidden": hy.hidden, "layers": hy.layers, "tied": model.tied(),
            "parameters": model.parameter_count(), "flash_bytes": bytes.len(), "ram_bytes_approx": ram,
            "bytes_read_per_token": model.bytes_per_token(),
            "quantization_error": errors, "eval_tokens": n,
            "val_ppl_libtorch_f32": float_ppl, "val_ppl_core": core_ppl,
            "val_ppl_core_int8": int8_ppl.map(|p| p.0), "int8_bytes": int8_ppl.map(|p| p.1),
        });
        println!("{report}");
        return Ok(());
    }
    println!(
        "wrote {} ({} bytes, {desc})",
        args.output.display(),
        bytes.len()
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
    println!(
        "  flash: {} bytes (the file, read in place); RAM: ~{ram} bytes of generator state (top-k ≤ 64)",
        bytes.len()
    );
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
        let label = format!("quill-core {desc}");
        let int8 = int8_ppl.map_or(String::new(), |(p, b)| {
            format!(
                " | quill-core int8 {p:.2} ({:+.2}%, {b} bytes)",
                100.0 * (p / f - 1.0)
            )
        });
        println!(
            "  validation perplexity on {n} tokens: libtorch f32 {f:.2} | {label} {q:.2} ({:+.2}%){int8}",
            100.0 * (q / f - 1.0)
        );
    }
    Ok(())
}
