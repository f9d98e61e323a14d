//! `cargo xtask <job>`: set-up and multi-step jobs.
//!
//! * `demo`          set up libtorch, fetch the default corpus, train, export int8, generate samples
//! * `test`          every check CI runs (fmt, clippy, rustdoc, thumb build, all tests, firmware under QEMU)
//! * `bench-train`   training throughput (tokens/s); `--peer` side by side with PyTorch in Python
//! * `bench-token`   µs per generated token, quill-core int8/int4 beside PyTorch dynamic int8 and f32
//! * `firmware`      build the firmware for a board and run it under QEMU (`--board`, `--interactive`, `--model`)
//! * `tokens`        word, char and BPE token levels at equal training time: bits/char, bytes, µs/token, samples
//! * `test-boards`   only the board checks of `test` (every board under QEMU, the interactive prompt, the M0+ build)
//! * `fuzz`          coverage-guided fuzzing of model loading and generation on stable Rust (`--seconds N`)
//! * `setup`         only the libtorch set-up (prints the environment to build `quill-trainer` by hand)

mod bench;
mod bench_token;
mod env;
mod firmware;
mod fuzz;
mod tokens;

use anyhow::{bail, Result};

use env::{cargo, run, Env};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let job = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    match job {
        "setup" => {
            let env = Env::setup()?;
            env.print();
            Ok(())
        }
        "demo" => demo(),
        "test" => test(),
        "bench-train" => bench::run_cli(rest),
        "bench-token" => bench_token::run_cli(rest),
        "firmware" => firmware::run_cli(rest),
        "test-boards" => firmware::test(&Env::setup()?),
        "fuzz" => fuzz::run_cli(rest),
        "tokens" => tokens::run_cli(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <demo|test|bench-train [--peer] [--cells lstm,gru] [--batch 32,64,256]|bench-token [--rounds R]|firmware [--board B] [--interactive] [--model PATH | --cell lstm|gru --level word|bpe --weights int8|int4 --vocab N] [--sampled]|test-boards|tokens [--minutes M] [--sentences N] [--rounds R]|fuzz [--seconds N]|setup>"
            );
            if job == "help" {
                Ok(())
            } else {
                bail!("unknown job {job}")
            }
        }
    }
}

/// The no_std targets quill-core is built and linted for in `cargo xtask test`.
const NO_STD_TARGETS: [&str; 4] = [
    "thumbv7em-none-eabihf",
    "thumbv6m-none-eabi",
    "thumbv8m.main-none-eabihf",
    "riscv32imac-unknown-none-elf",
];

/// The demo's training settings: about 6 minutes on a 2-core CPU after set-up, far less on a GPU. The GRU: on
/// these settings it reaches validation perplexity 98.5 against the LSTM's 111.5 (README, "LSTM or GRU").
pub const DEMO_TRAIN: &[&str] = &[
    "--cell",
    "gru",
    "--max-tokens",
    "1000000",
    "--max-vocab",
    "8000",
    "--epochs",
    "3",
    "--seq-len",
    "35",
    "--batch",
    "32",
];

/// The demo's sampled text (and the samples of `cargo xtask tokens`): temperature 0.8, top-k 40, penalty 1.3.
pub const DEMO_SAMPLER: &[&str] = &[
    "--temperature",
    "0.8",
    "--top-k",
    "40",
    "--repetition-penalty",
    "1.3",
];

fn demo() -> Result<()> {
    let env = Env::setup()?;
    let corpus = env::corpus()?;
    let quill = env.build_quill()?;
    let out = env::workspace().join("runs/demo");
    let corpus = corpus.to_string_lossy().to_string();
    let mut train = vec!["train", corpus.as_str(), "--out"];
    let out_s = out.to_string_lossy().to_string();
    train.push(&out_s);
    train.extend_from_slice(DEMO_TRAIN);
    run(env.command(&quill).args(&train))?;
    let model = out.join("model.quill").to_string_lossy().to_string();
    run(env.command(&quill).args(["export", &out_s, "-o", &model]))?;
    for (what, extra) in [
        ("greedy, as the seed notebook", vec![]),
        (
            "temperature 0.8, top-k 40, repetition penalty 1.3, 3 texts",
            [DEMO_SAMPLER, &["--count", "3"]].concat(),
        ),
    ] {
        println!("\n== {what} ==");
        let mut c = env.command(&quill);
        c.args([
            "generate",
            &model,
            "--prompt",
            "The state of the Union",
            "--words",
            "40",
        ])
        .args(extra);
        run(&mut c)?;
    }
    println!("\nrun folder: {out_s} (best.ckpt, metrics.jsonl, loss.png, model.quill)");
    Ok(())
}

fn test() -> Result<()> {
    let env = Env::setup()?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(env.cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // quill-core without std on every embedded target it serves: Cortex-M4 (DSP kernels), Cortex-M0+ (no DSP),
    // Cortex-M33 and RISC-V (the scalar reference).
    for target in NO_STD_TARGETS {
        env::rustup_target(target)?;
        run(cargo()
            .args([
                "clippy",
                "-p",
                "quill-core",
                "--release",
                "--target",
                target,
            ])
            .args(["--", "-D", "warnings"])
            .env_remove("RUSTFLAGS"))?;
    }
    run(cargo()
        .args(["doc", "-p", "quill-core", "--no-deps", "--features", "std"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    run(env.cargo().args(["test", "--workspace", "--release"]))?;
    fuzz::fuzz(fuzz::TEST_SECONDS)?;
    firmware::test(&env)?;
    println!("xtask test: all checks passed");
    Ok(())
}
