//! `cargo xtask fuzz`: libFuzzer on `core/fuzz/fuzz_targets/from_bytes.rs` with stable Rust.
//!
//! cargo-fuzz needs nightly for its sanitizers; the coverage instrumentation libFuzzer steers by is plain LLVM
//! passes that stable `rustc` accepts (`-C passes=sancov-module` and `-C llvm-args`), so this builds the target
//! with those and runs the binary on a corpus seeded with valid models.

use std::path::Path;

use anyhow::{bail, Context, Result};
use quill_core::testing::{random_bpe, random_cell, random_model, tiny_model_bytes};
use quill_core::{DType, Hyper, ModelKind};

use crate::env::{cargo, run, workspace};

/// Seconds of fuzzing inside `cargo xtask test`.
pub const TEST_SECONDS: u32 = 20;

/// The flags cargo-fuzz passes, minus the (nightly) sanitizer: coverage counters, comparison tracing, and the
/// checks a release build drops.
const COVERAGE_FLAGS: &str = "-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

/// This machine's target triple (`rustc -vV`): building for it with an explicit `--target` makes RUSTFLAGS reach
/// only the target's code, not build scripts.
fn host() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = std::process::Command::new(rustc).arg("-vV").output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("`rustc -vV` printed no host triple")
}

pub fn run_cli(args: &[String]) -> Result<()> {
    let seconds = match args {
        [] => 60,
        [flag, n] if flag == "--seconds" => n.parse().context("--seconds takes a whole number")?,
        _ => bail!("usage: cargo xtask fuzz [--seconds N]"),
    };
    fuzz(seconds)
}

/// Seeds the corpus if it is empty, builds the instrumented target and fuzzes for `seconds`. A crash fails with
/// the input saved under `core/fuzz/artifacts/`.
pub fn fuzz(seconds: u32) -> Result<()> {
    let dir = workspace().join("core/fuzz");
    let corpus = dir.join("corpus/from_bytes");
    write_seeds(&corpus)?;
    let host = host()?;
    run(cargo()
        .current_dir(&dir)
        .args([
            "build",
            "--release",
            "--bin",
            "from_bytes",
            "--target",
            &host,
        ])
        .args(["--target-dir", "target/cov"])
        .env("RUSTFLAGS", COVERAGE_FLAGS))?;
    let artifacts = dir.join("artifacts/from_bytes");
    std::fs::create_dir_all(&artifacts)?;
    let bin = dir.join(format!("target/cov/{host}/release/from_bytes"));
    run(std::process::Command::new(bin).current_dir(&dir).args([
        corpus.to_string_lossy().as_ref(),
        &format!("-max_total_time={seconds}"),
        "-max_len=16384",
        &format!("-artifact_prefix={}/", artifacts.display()),
    ]))
    .context(
        "the fuzzer found an input that panics; it is saved under core/fuzz/artifacts/from_bytes",
    )
}

/// A few small valid models (LSTM and GRU, int8, int4 and f32), as whole files (mode byte 0) and as bare payloads
/// (mode byte 1), each written if missing: the fuzzer starts from inputs that get past the decoder instead of
/// rediscovering the format, and a corpus from an older format version gains the new seeds.
fn write_seeds(corpus: &Path) -> Result<()> {
    std::fs::create_dir_all(corpus)?;
    let hyper = Hyper {
        vocab: 24,
        embed: 8,
        hidden: 12,
        layers: 2,
    };
    let models = [
        tiny_model_bytes(),
        random_model(hyper, false, DType::I8RowScaled, 2).to_bytes()?,
        random_model(hyper, false, DType::F32, 3).to_bytes()?,
        random_cell(ModelKind::Gru, hyper, false, DType::I8RowScaled, 4).to_bytes()?,
        random_cell(ModelKind::Gru, hyper, false, DType::F32, 5).to_bytes()?,
        random_cell(ModelKind::Lstm, hyper, false, DType::I4GroupScaled, 6).to_bytes()?,
        random_cell(ModelKind::Gru, hyper, false, DType::I4GroupScaled, 7).to_bytes()?,
        // BPE: a merge table and byte-string tokens for the fuzzer to corrupt.
        random_bpe(
            &[(116, 104), (256, 101), (32, 257), (97, 110)],
            8,
            DType::I8RowScaled,
            8,
        )
        .to_bytes()?,
    ];
    for (i, file) in models.iter().enumerate() {
        let payload = file.get(16..).unwrap_or_default();
        let v = quill_core::FORMAT_VERSION;
        for (name, seed) in [
            (format!("v{v}-file-{i}"), [&[0u8][..], file].concat()),
            (format!("v{v}-payload-{i}"), [&[1u8][..], payload].concat()),
        ] {
            let path = corpus.join(name);
            if !path.exists() {
                std::fs::write(path, seed)?;
            }
        }
    }
    Ok(())
}
