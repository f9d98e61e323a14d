//! GB/s of the int8 and int4 matrix-vector kernels alone: `cargo bench -p quill-core --bench matvec`.
//!
//! A matrix that stays in L2 (the LSTM's 600×150) against the seed model's dense layer (11,548×150, 1.7 MB in
//! int8, streamed from L3 or memory; 0.9 MB in int4), for each kernel this CPU has; throughput counts weights.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use quill_core::kernels::{matvec_int, QVec};
use quill_core::testing::random_model;
use quill_core::{DType, Hyper, Kernel, Model};

fn matvec(c: &mut Criterion) {
    let hyper = Hyper {
        vocab: 11_548,
        embed: 150,
        hidden: 150,
        layers: 1,
    };
    let bytes = random_model(hyper, false, DType::I8RowScaled, 1)
        .to_bytes()
        .expect("valid model");
    let model = Model::from_bytes(&bytes).expect("loads");
    let mut x = QVec::<160>::default();
    x.quantize(
        &(0..150)
            .map(|i| (i as f32 * 0.37).sin())
            .collect::<Vec<_>>(),
    );
    let small = random_model(Hyper { vocab: 64, ..hyper }, false, DType::I8RowScaled, 1)
        .to_bytes()
        .expect("valid model");
    let small = Model::from_bytes(&small).expect("loads");
    let l1 = small.matrices().last().expect("dense");
    let mut group = c.benchmark_group("matvec");
    let w_hh = model
        .matrices()
        .find(|t| t.rows() == 600 && t.cols() == 150)
        .expect("W_hh");
    let dense = model.matrices().last().expect("dense");
    // The same dense layer in int4 (`matvec_int` runs each tensor's dtype).
    let bytes4 = random_model(hyper, false, DType::I4GroupScaled, 1)
        .to_bytes()
        .expect("valid model");
    let model4 = Model::from_bytes(&bytes4).expect("loads");
    let dense4 = model4.matrices().last().expect("dense");
    for (name, t) in [
        ("l1 64x150", l1),
        ("lstm 600x150", w_hh),
        ("dense 11548x150", dense),
        ("dense 11548x150 int4", dense4),
    ] {
        group.throughput(Throughput::Bytes((t.rows() * t.cols()) as u64));
        for k in [
            Kernel::Scalar,
            Kernel::Avx2,
            Kernel::AvxVnni,
            Kernel::Avx512Vnni,
        ]
        .into_iter()
        .filter(|k| k.is_supported())
        {
            group.bench_function(format!("{name} {k:?}"), |b| {
                b.iter(|| {
                    let mut s = 0i32;
                    matvec_int(k, t, &x, |_, v| s = s.wrapping_add(v[0]));
                    s
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2));
    targets = matvec
}
criterion_main!(benches);
