//! `quill`: train, export, generate, evaluate, inspect. Each subcommand lives in `commands/<name>.rs`.

use clap::{Parser, Subcommand};

/// mimalloc for every allocation of the process (its `override` feature also replaces `malloc` for libtorch).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use quill_trainer::commands::{eval, export, generate, inspect, study, train};

/// Train small LSTM or GRU text generators with libtorch and run them int8-quantized through quill-core.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train on text files (checkpoints, metrics.jsonl and loss.png in --out).
    Train(train::TrainArgs),
    /// Convert a checkpoint into a quill-core model file (int8 by default) and report its size and accuracy.
    Export(export::ExportArgs),
    /// Generate text from a model file or run folder through quill-core (or a checkpoint with --float).
    Generate(generate::GenerateArgs),
    /// Perplexity and accuracy of a model file or checkpoint on text files.
    Eval(eval::EvalArgs),
    /// Compare teacher forcing, scheduled sampling and Professor Forcing for LSTM and GRU at char and word level
    /// on long free-running text (tables, plots and samples in --out).
    Study(study::StudyArgs),
    /// Show a model file's or checkpoint's header, dimensions and sizes.
    Inspect(inspect::InspectArgs),
}

fn main() -> anyhow::Result<()> {
    #[cfg(unix)]
    // SAFETY: called first, before any thread exists; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match Cli::parse().command {
        Command::Train(a) => train::run(&a),
        Command::Export(a) => export::run(&a),
        Command::Generate(a) => generate::run(&a),
        Command::Eval(a) => eval::run(&a),
        Command::Inspect(a) => inspect::run(&a),
        Command::Study(a) => study::run(&a),
    }
}
