//! `quill`: train, export, generate, evaluate, inspect. Each subcommand lives in `commands.rs`.

use clap::{Parser, Subcommand};
use quill_trainer::commands;

/// Train small LSTM text generators with libtorch and run them int8-quantized through quill-core.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train on text files (checkpoints, metrics.jsonl and loss.png in --out).
    Train(commands::TrainArgs),
    /// Convert a checkpoint into a quill-core model file (int8 by default) and report its size and accuracy.
    Export(commands::ExportArgs),
    /// Generate text from a model file through quill-core (or a checkpoint with --float).
    Generate(commands::GenerateArgs),
    /// Perplexity and accuracy of a model file or checkpoint on text files.
    Eval(commands::EvalArgs),
    /// Show a model file's or checkpoint's header, dimensions and sizes.
    Inspect(commands::InspectArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(a) => commands::train(&a),
        Command::Export(a) => commands::export(&a),
        Command::Generate(a) => commands::generate(&a),
        Command::Eval(a) => commands::eval(&a),
        Command::Inspect(a) => commands::inspect(&a),
    }
}
