//! Best-round µs per generated token: `cargo run --release -p quill-core --example token_min [--timeline] [FILTER | MODEL.quill ...]`.
//! With model files: each file's greedy token on the detected kernel, after the prompt "The state of the Union".
//! `--timeline` adds, per row, the mean µs/token of each of 40 consecutive 50 ms windows: what a mean over a few
//! seconds (criterion's) averages over on a shared machine.
//!
//! The criterion bench (`cargo bench -p quill-core --bench token`) reports means, which on a shared machine move
//! with whatever else runs there. This takes the fastest of many short rounds instead (as Python's `timeit`
//! advises): the cost of a token when nothing else interferes. Same models and settings as the bench.

use std::time::Instant;

use quill_core::testing::{random_cell, BENCH_CONFIGS, BENCH_MODELS};
use quill_core::{DType, Generator, Kernel, Model, ModelKind};

const ROUNDS: usize = 2000;
const TOKENS_PER_ROUND: usize = 10;

/// `path  V=..  bytes  kernel  greedy  N µs/token` for each model file.
fn files(paths: &[String]) {
    for path in paths {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("token_min: cannot read {path}: {e}");
                std::process::exit(2);
            }
        };
        let model = match Model::from_bytes(&bytes) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("token_min: {path} is not a model quill-core loads: {e}");
                std::process::exit(2);
            }
        };
        let mut gen: Box<Generator<'_, 1024, 4, 64>> =
            match Generator::new(&model, quill_core::SamplerConfig::GREEDY, 1) {
                Ok(g) => Box::new(g),
                Err(e) => {
                    eprintln!("token_min: {path}: {e}");
                    std::process::exit(2);
                }
            };
        let mut echo = String::new();
        let _ = gen.prime("The state of the Union", &mut echo, |_| {});
        let us = best_round(&mut *gen) * 1e6;
        println!(
            "{path} V={} bytes={} {:?} greedy {us:.1} µs/token",
            model.hyper().vocab,
            bytes.len(),
            gen.kernel()
        );
    }
}

fn best_round<const D: usize, const L: usize, const K: usize>(
    gen: &mut Generator<'_, D, L, K>,
) -> f64 {
    (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..TOKENS_PER_ROUND {
                std::hint::black_box(gen.next_token());
            }
            t.elapsed().as_secs_f64() / TOKENS_PER_ROUND as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// The mean µs/token of each of `WINDOWS` consecutive 50 ms windows of generation.
fn timeline<const D: usize, const L: usize, const K: usize>(
    gen: &mut Generator<'_, D, L, K>,
) -> Vec<f64> {
    const WINDOWS: usize = 40;
    (0..WINDOWS)
        .map(|_| {
            let (t, mut n) = (Instant::now(), 0u32);
            while t.elapsed().as_millis() < 50 {
                for _ in 0..TOKENS_PER_ROUND {
                    std::hint::black_box(gen.next_token());
                }
                n += TOKENS_PER_ROUND as u32;
            }
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        })
        .collect()
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let with_timeline = args.iter().any(|a| a == "--timeline");
    args.retain(|a| a != "--timeline");
    if !args.is_empty() && args.iter().all(|a| a.ends_with(".quill")) {
        return files(&args);
    }
    let only = args.first().cloned(); // an optional filter: `lstm`, `gru`, `seed`, `Avx2 greedy`, ...
    let weights = [("int8", DType::I8RowScaled), ("int4", DType::I4GroupScaled)];
    for (((name, hyper, tied), kind), (wname, dtype)) in BENCH_MODELS
        .into_iter()
        .flat_map(|m| [(m, ModelKind::Lstm), (m, ModelKind::Gru)])
        .flat_map(|m| weights.map(|w| (m, w)))
    {
        let bytes = random_cell(kind, hyper, tied, dtype, 1)
            .to_bytes()
            .expect("valid model");
        let model = Model::from_bytes(&bytes).expect("loads");
        let kernels = [
            Kernel::Avx512Vnni,
            Kernel::AvxVnni,
            Kernel::Avx2,
            Kernel::ArmDsp,
            Kernel::Scalar,
        ];
        for kernel in kernels.into_iter().filter(|k| k.is_supported()) {
            for (label, cfg) in BENCH_CONFIGS {
                if kernel == Kernel::Scalar && label != "greedy" {
                    continue;
                }
                let row = format!(
                    "{} {name:27} {wname} {:10} {label:16}",
                    kind.name(),
                    format!("{kernel:?}")
                );
                if only.as_ref().is_some_and(|f| !row.contains(f.as_str())) {
                    continue;
                }
                let mut gen: Generator<160, 1, 64> = Generator::new(&model, cfg, 1)
                    .expect("fits")
                    .with_kernel(kernel);
                gen.feed(3);
                let us = best_round(&mut gen) * 1e6;
                println!("{row} {us:8.1} µs/token");
                if with_timeline {
                    let windows = timeline(&mut gen);
                    let mut sorted = windows.clone();
                    sorted.sort_by(f64::total_cmp);
                    let shown: Vec<String> = windows.iter().map(|w| format!("{w:.0}")).collect();
                    println!(
                        "  50 ms windows, µs/token: {} (median {:.1}, slowest {:.1})",
                        shown.join(" "),
                        sorted[sorted.len() / 2],
                        sorted[sorted.len() - 1]
                    );
                }
            }
        }
    }
}
