//! µs per generated token: `cargo bench -p quill-core --bench token`.
//!
//! LSTM and GRU, each as the seed-sized model (V=11,548, E=100, H=150, untied, random weights) and the board model
//! (V=4,096, E=H=128, tied);
//! int8 and int4 weights; greedy, top-k 40, temperature 0.8; integer path with the detected kernel (and, for greedy, every other kernel this
//! CPU has, down to the scalar reference), and the float reference. One thread.

use criterion::{criterion_group, criterion_main, Criterion};
use quill_core::testing::{random_cell, BENCH_CONFIGS, BENCH_MODELS};
use quill_core::{DType, Generator, Hyper, Kernel, Model, ModelKind};

fn bench_model(
    c: &mut Criterion,
    kind: ModelKind,
    (wname, dtype): (&str, DType),
    name: &str,
    hyper: Hyper,
    tied: bool,
) {
    let bytes = random_cell(kind, hyper, tied, dtype, 1)
        .to_bytes()
        .expect("valid model");
    let model = Model::from_bytes(&bytes).expect("loads");
    let mut group = c.benchmark_group(format!("{} {wname} {name}", kind.name()));
    for (label, cfg) in BENCH_CONFIGS {
        let mut gen: Generator<160, 1, 64> = Generator::new(&model, cfg, 1).expect("fits");
        let kernel = gen.kernel();
        gen.feed(3);
        group.bench_function(format!("{wname} {kernel:?} {label}"), |b| {
            b.iter(|| gen.next_token())
        });
        if label == "greedy" {
            // Every other kernel this CPU has, down to the scalar reference.
            let others = [Kernel::AvxVnni, Kernel::Avx2, Kernel::Scalar];
            for k in others
                .into_iter()
                .filter(|&k| k != kernel && k.is_supported())
            {
                let mut gen = gen.clone().with_kernel(k);
                group.bench_function(format!("{wname} {k:?} {label}"), |b| {
                    b.iter(|| gen.next_token())
                });
            }
        }
        let mut gen: Generator<160, 1, 64> = Generator::new_float(&model, cfg, 1).expect("fits");
        gen.feed(3);
        group.bench_function(format!("float {label}"), |b| b.iter(|| gen.next_token()));
    }
    group.finish();
}

fn token(c: &mut Criterion) {
    for (name, hyper, tied) in BENCH_MODELS {
        for kind in [ModelKind::Lstm, ModelKind::Gru] {
            for weights in [("int8", DType::I8RowScaled), ("int4", DType::I4GroupScaled)] {
                bench_model(c, kind, weights, name, hyper, tied);
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2));
    targets = token
}
criterion_main!(benches);
