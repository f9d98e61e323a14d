//! Random models for tests, benchmarks and examples (feature `alloc`).
#![allow(clippy::indexing_slicing)] // reason: test helper on the host

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::builder::{ModelBuilder, OwnedLayer, OwnedTensor};
use crate::crc::crc32;
use crate::format::{DType, Hyper, Level, ModelKind, Profile, TokenizerSpec, Unknown};
use crate::format::{FORMAT_VERSION, MAGIC};
use crate::generator::Generator;
use crate::model::Model;
use crate::rng::Rng;
use crate::sampler::SamplerConfig;

/// The models `benches/token.rs` and `examples/token_min.rs` time: (name, shape, tied).
pub const BENCH_MODELS: [(&str, Hyper, bool); 2] = [
    (
        "seed V=11548 E=100 H=150",
        Hyper {
            vocab: 11_548,
            embed: 100,
            hidden: 150,
            layers: 1,
        },
        false,
    ),
    (
        "board V=4096 E=H=128 tied",
        Hyper {
            vocab: 4096,
            embed: 128,
            hidden: 128,
            layers: 1,
        },
        true,
    ),
];

/// The sampler settings they time: greedy, top-k 40 at T 0.8, temperature 0.8.
pub const BENCH_CONFIGS: [(&str, SamplerConfig); 3] = [
    ("greedy", SamplerConfig::GREEDY),
    (
        "top-k 40",
        SamplerConfig {
            top_k: 40,
            temperature: 0.8,
            ..SamplerConfig::GREEDY
        },
    ),
    (
        "temperature 0.8",
        SamplerConfig {
            temperature: 0.8,
            ..SamplerConfig::GREEDY
        },
    ),
];

fn uniform(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.next_f32() * 2.0 - 1.0) * scale)
        .collect()
}

/// A word-level, `default`-profile LSTM with random weights: tokens `<unk>`, `.`, `,`, `the`, `people`, then
/// `w5`, `w6`, ... up to `hyper.vocab`. Weights are uniform in ±1/√H, so activations are in a realistic range.
pub fn random_model(hyper: Hyper, tied: bool, dtype: DType, seed: u64) -> ModelBuilder {
    random_cell(ModelKind::Lstm, hyper, tied, dtype, seed)
}

/// [`random_model`] with the recurrent cell `kind` (LSTM or GRU).
pub fn random_cell(
    kind: ModelKind,
    hyper: Hyper,
    tied: bool,
    dtype: DType,
    seed: u64,
) -> ModelBuilder {
    let mut rng = Rng::new(seed);
    let (v, e, h) = (
        hyper.vocab as usize,
        hyper.embed as usize,
        hyper.hidden as usize,
    );
    let base = ["<unk>", ".", ",", "the", "people"];
    let vocab: Vec<String> = (0..v)
        .map(|i| {
            base.get(i)
                .map_or_else(|| format!("w{i}"), |s| String::from(*s))
        })
        .collect();
    let k = 1.0 / libm::sqrtf(h as f32);
    let g = kind.gates();
    let mut tensor = |rows, cols, scale| {
        OwnedTensor::new(dtype, &uniform(&mut rng, rows * cols, scale), rows, cols)
    };
    let embedding = tensor(v, e, 1.0);
    let layers = (0..hyper.layers as usize)
        .map(|l| OwnedLayer {
            w_ih: tensor(g * h, if l == 0 { e } else { h }, k),
            w_hh: tensor(g * h, h, k),
            bias: Vec::new(),
            bias_hn: Vec::new(),
        })
        .collect::<Vec<_>>();
    let dense = (!tied).then(|| tensor(v, h, k));
    let mut rng = Rng::new(seed ^ 0x5eed);
    let layers = layers
        .into_iter()
        .map(|l| OwnedLayer {
            bias: uniform(&mut rng, g * h, k),
            bias_hn: match kind {
                ModelKind::Gru => uniform(&mut rng, h, k),
                ModelKind::Lstm => Vec::new(),
            },
            ..l
        })
        .collect();
    ModelBuilder {
        kind,
        hyper,
        tokenizer: TokenizerSpec {
            level: Level::Word,
            profile: Profile::Default,
            unknown: Unknown::Map(0),
            sentence_end: Some(1),
            capitalize: true,
        },
        vocab,
        merges: Vec::new(),
        embedding,
        layers,
        dense,
        dense_bias: uniform(&mut rng, v, 0.1),
        meta: String::from("{\"source\":\"quill_core::testing::random_model\"}"),
    }
}

/// A BPE-level, `text`-profile GRU with random weights over `merges` (V = 256 + merges; merge `r` makes token
/// `256 + r`, so each pair names earlier tokens), E = H = `width`.
pub fn random_bpe(merges: &[(u32, u32)], width: u32, dtype: DType, seed: u64) -> ModelBuilder {
    let hyper = Hyper {
        vocab: 256 + merges.len() as u32,
        embed: width,
        hidden: width,
        layers: 1,
    };
    ModelBuilder {
        tokenizer: TokenizerSpec {
            level: Level::Bpe,
            profile: Profile::Text,
            unknown: Unknown::Skip,
            sentence_end: None,
            capitalize: false,
        },
        vocab: Vec::new(),
        merges: merges.to_vec(),
        ..random_cell(ModelKind::Gru, hyper, false, dtype, seed)
    }
}

/// The bytes of a small random int8 model (V=64, E=H=32, tied), for examples.
pub fn tiny_model_bytes() -> Vec<u8> {
    let hyper = Hyper {
        vocab: 64,
        embed: 32,
        hidden: 32,
        layers: 1,
    };
    random_model(hyper, true, DType::I8RowScaled, 1)
        .to_bytes()
        .unwrap_or_default()
}

/// `payload` behind a valid header (magic, version, flags 0, length, CRC-32), so that arbitrary payload bytes get
/// past the checksum and reach the decoder and the shape checks (fuzzing, property tests).
pub fn with_header(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Loads `bytes` and, if they are a model, primes and generates with it on the int8 path under greedy,
/// top-k/top-p and temperature-with-penalty settings, and on the float path. Never panics for any input: that is what the fuzz target
/// and the property tests check.
pub fn exercise(bytes: &[u8]) {
    let Ok(m) = Model::from_bytes(bytes) else {
        return;
    };
    let configs = [
        SamplerConfig::GREEDY,
        SamplerConfig {
            temperature: 0.9,
            top_k: 5,
            top_p: 0.8,
            ..SamplerConfig::GREEDY
        },
        SamplerConfig {
            temperature: 1.3,
            repetition_penalty: 1.5,
            penalty_window: 4,
            ..SamplerConfig::GREEDY
        },
    ];
    let float = Generator::<64, 4, 8>::new_float(&m, SamplerConfig::GREEDY, 1);
    let int8 = configs.map(|c| Generator::<64, 4, 8>::new(&m, c, 1));
    for mut g in int8.into_iter().chain([float]).flatten() {
        let mut s = String::new();
        let _ = g.prime("the people , w7 zebra.", &mut s, |_| {});
        let _ = g.generate(2, &mut s);
        let mut logits = alloc::vec![0.0; m.hyper().vocab as usize];
        let _ = g.logits(&mut logits);
    }
}
