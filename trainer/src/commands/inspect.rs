//! `quill inspect`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use quill_core::Model;
use quill_core::Unknown;

use crate::checkpoint;
use crate::source::Source;

/// `quill inspect` flags.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Model file, checkpoint, or run folder.
    pub path: PathBuf,
}

/// Runs `quill inspect`: what a model file or checkpoint holds; for any other file, says it is neither.
pub fn run(args: &InspectArgs) -> Result<()> {
    match Source::open(&args.path)? {
        Source::Model(bytes, path) => {
            let m = Model::from_bytes(&bytes)?;
            let hy = m.hyper();
            println!(
                "quill model {} (format v{})",
                path.display(),
                m.format_version()
            );
            println!("  bytes: {}  crc ok", bytes.len());
            println!(
                "  cell={} V={} E={} H={} layers={} tied={} quantized={}",
                m.kind().name(),
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
            if m.tokenizer().level == quill_core::Level::Bpe {
                let merged: Vec<String> = (256..m.vocab().len().min(268) as u32)
                    .map(|i| String::from_utf8_lossy(m.vocab().token_bytes(i)).into_owned())
                    .collect();
                println!(
                    "  vocabulary: the 256 bytes and {} merges: {merged:?} ...",
                    m.vocab().merges().len()
                );
            } else {
                let first: Vec<&str> = m.vocab().iter().take(12).collect();
                println!("  vocabulary: {first:?} ...");
            }
            println!("  meta: {}", m.meta());
        }
        Source::Checkpoint(path) => {
            let ck = checkpoint::load(&path, tch::Device::Cpu)?;
            println!("quill checkpoint {}", path.display());
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
            if let Unknown::Map(unk) = ck.meta.vocab.spec().unknown {
                let n = ck.val_tokens.len();
                let unknown = ck.val_tokens.iter().filter(|&&t| t == unk).count();
                println!(
                    "  validation tokens kept: {n}, {unknown} of them <unk> ({:.2}%)",
                    100.0 * unknown as f64 / n.max(1) as f64
                );
            }
            println!("  settings: {}", serde_json::to_string(&ck.meta.settings)?);
        }
    }
    Ok(())
}
