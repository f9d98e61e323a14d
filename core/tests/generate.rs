//! Generation: determinism, float vs int8 error, kernels against each other, sampler statistics, text handling.

use quill_core::testing::{random_cell, random_model};
use quill_core::text::{normalize, pieces, Detokenizer};
use quill_core::{
    sampler::Selector, DType, Generator, Hyper, Kernel, Level, Model, ModelKind, Profile, Rng,
    SamplerConfig, TokenizerSpec, Unknown,
};

fn model_bytes(tied: bool, dtype: DType) -> Vec<u8> {
    cell_bytes(ModelKind::Lstm, tied, dtype)
}

/// V=300, E=H=48, two layers of `kind`.
fn cell_bytes(kind: ModelKind, tied: bool, dtype: DType) -> Vec<u8> {
    random_cell(
        kind,
        Hyper {
            vocab: 300,
            embed: 48,
            hidden: 48,
            layers: 2,
        },
        tied,
        dtype,
        5,
    )
    .to_bytes()
    .unwrap()
}

fn text(m: &Model<'_>, cfg: SamplerConfig, seed: u64, kernel: Kernel) -> String {
    let mut g: Generator<64, 2, 64> = Generator::new(m, cfg, seed).unwrap().with_kernel(kernel);
    let mut s = String::new();
    g.prime("The people w9 w10", &mut s, |_| {}).unwrap();
    g.generate(40, &mut s).unwrap();
    s
}

fn sampled() -> SamplerConfig {
    SamplerConfig {
        temperature: 0.9,
        top_k: 20,
        top_p: 0.9,
        repetition_penalty: 1.3,
        penalty_window: 16,
    }
}

#[test]
fn same_seed_same_text_and_kernels_agree() {
    for kind in [ModelKind::Lstm, ModelKind::Gru] {
        for dtype in [DType::I8RowScaled, DType::I4GroupScaled] {
            kernels_agree(kind, dtype);
        }
    }
}

fn kernels_agree(kind: ModelKind, dtype: DType) {
    let bytes = cell_bytes(kind, false, dtype);
    let m = Model::from_bytes(&bytes).unwrap();
    for cfg in [
        SamplerConfig::GREEDY,
        sampled(),
        SamplerConfig {
            temperature: 1.0,
            ..SamplerConfig::GREEDY
        },
    ] {
        let reference = text(&m, cfg, 11, Kernel::Scalar);
        assert!(reference.starts_with("The people w9 w10"), "{reference}");
        assert_eq!(text(&m, cfg, 11, Kernel::detect()), reference);
        if cfg != SamplerConfig::GREEDY {
            assert_ne!(
                text(&m, cfg, 12, Kernel::Scalar),
                reference,
                "the seed must matter when sampling"
            );
        }
    }
}

#[test]
fn reset_restarts_the_same_text() {
    let bytes = model_bytes(true, DType::I8RowScaled);
    let m = Model::from_bytes(&bytes).unwrap();
    let mut g: Generator<64, 2, 64> = Generator::new(&m, sampled(), 3).unwrap();
    let a: Vec<u32> = g.by_ref().take(30).collect();
    g.reset();
    let b: Vec<u32> = g.by_ref().take(30).collect();
    assert_eq!(a, b);
}

/// The int8 path stays close to the float reference over a long stateful run; the bound is reported.
#[test]
fn int8_logits_track_float_reference() {
    for kind in [ModelKind::Lstm, ModelKind::Gru] {
        for dtype in [DType::I8RowScaled, DType::I4GroupScaled] {
            int8_tracks_float(kind, dtype);
        }
    }
}

fn int8_tracks_float(kind: ModelKind, dtype: DType) {
    let bytes = cell_bytes(kind, false, dtype);
    let m = Model::from_bytes(&bytes).unwrap();
    let mut q: Generator<64, 2, 8> = Generator::new(&m, SamplerConfig::GREEDY, 0).unwrap();
    let mut f: Generator<64, 2, 8> = Generator::new_float(&m, SamplerConfig::GREEDY, 0).unwrap();
    let (mut lq, mut lf) = (vec![0.0; 300], vec![0.0; 300]);
    let (mut worst, mut agree) = (0.0f32, 0);
    let mut rng = Rng::new(1);
    for step in 0..200 {
        let tok = rng.next_u32() % 300;
        q.feed(tok);
        f.feed(tok);
        q.logits(&mut lq).unwrap();
        f.logits(&mut lf).unwrap();
        let spread = lf.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = lq
            .iter()
            .zip(&lf)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        worst = worst.max(err / spread);
        let argmax = |v: &[f32]| {
            v.iter()
                .enumerate()
                .fold(0, |b, (i, x)| if *x > v[b] { i } else { b })
        };
        agree += usize::from(argmax(&lq) == argmax(&lf));
        assert!(
            err <= 0.05 * spread,
            "step {step}: max |int8 - float| = {err} vs logit range {spread}"
        );
    }
    println!(
        "{kind:?} {dtype:?} integer vs float path: worst logit error {:.2}% of max |logit|, argmax agreement {agree}/200",
        worst * 100.0
    );
    assert!(agree >= 180, "argmax agreed on only {agree}/200 steps");
}

/// The float path's GRU against the equations of `torch.nn.GRU` written out directly in f64 from the builder's
/// weights (two layers, carried state, 150 steps).
#[test]
fn gru_float_path_follows_the_torch_equations() {
    let hyper = Hyper {
        vocab: 50,
        embed: 24,
        hidden: 32,
        layers: 2,
    };
    let b = random_cell(ModelKind::Gru, hyper, false, DType::F32, 4);
    let bytes = b.to_bytes().unwrap();
    let m = Model::from_bytes(&bytes).unwrap();
    let mut g: Generator<32, 2, 8> = Generator::new_float(&m, SamplerConfig::GREEDY, 0).unwrap();
    let f64s = |t: &quill_core::OwnedTensor| -> Vec<f64> {
        t.to_f32().iter().map(|&v| f64::from(v)).collect()
    };
    let matvec = |w: &[f64], rows: usize, x: &[f64]| -> Vec<f64> {
        (0..rows)
            .map(|r| (0..x.len()).map(|c| w[r * x.len() + c] * x[c]).sum())
            .collect()
    };
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let (v, e, h) = (50, 24, 32);
    let emb = f64s(&b.embedding);
    let dense = f64s(b.dense.as_ref().unwrap());
    let mut state = vec![vec![0f64; h]; 2];
    let mut ours = vec![0f32; v];
    let mut rng = Rng::new(8);
    let mut worst = 0f64;
    for _ in 0..150 {
        let tok = (rng.next_u32() % v as u32) as usize;
        let mut x: Vec<f64> = emb[tok * e..(tok + 1) * e].to_vec();
        for (l, layer) in b.layers.iter().enumerate() {
            let gi = matvec(&f64s(&layer.w_ih), 3 * h, &x);
            let gh = matvec(&f64s(&layer.w_hh), 3 * h, &state[l]);
            let bias = |i: usize| f64::from(layer.bias[i]);
            for j in 0..h {
                let r = sig(gi[j] + gh[j] + bias(j));
                let z = sig(gi[h + j] + gh[h + j] + bias(h + j));
                let n = (gi[2 * h + j]
                    + bias(2 * h + j)
                    + r * (gh[2 * h + j] + f64::from(layer.bias_hn[j])))
                .tanh();
                state[l][j] = (1.0 - z) * n + z * state[l][j];
            }
            x = state[l].clone();
        }
        let want: Vec<f64> = matvec(&dense, v, &x)
            .iter()
            .zip(&b.dense_bias)
            .map(|(a, &b)| a + f64::from(b))
            .collect();
        g.feed(tok as u32);
        g.logits(&mut ours).unwrap();
        let err = ours
            .iter()
            .zip(&want)
            .fold(0f64, |m, (&a, b)| m.max((f64::from(a) - b).abs()));
        worst = worst.max(err);
    }
    println!("GRU float path vs f64 equations: worst |Δlogit| {worst:e} over 150 steps");
    assert!(worst <= 1e-5, "worst |Δlogit| {worst}");
}

fn frequencies(logits: &[f32], cfg: SamplerConfig, n: usize) -> Vec<f64> {
    let mut sel = Selector::<8>::new(cfg).unwrap();
    let mut rng = Rng::new(99);
    let mut counts = vec![0usize; logits.len()];
    for _ in 0..n {
        sel.begin();
        for (i, &l) in logits.iter().enumerate() {
            sel.push(i as u32, l, &mut rng);
        }
        counts[sel.finish(&mut rng) as usize] += 1;
    }
    counts.into_iter().map(|c| c as f64 / n as f64).collect()
}

fn softmax(logits: &[f32], t: f32, keep: &[usize]) -> Vec<f64> {
    let w: Vec<f64> = (0..logits.len())
        .map(|i| {
            if keep.contains(&i) {
                ((logits[i] / t) as f64).exp()
            } else {
                0.0
            }
        })
        .collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|x| x / s).collect()
}

fn assert_close(got: &[f64], want: &[f64]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() < 0.006,
            "token {i}: frequency {g:.4}, expected {w:.4}\n got {got:?}\nwant {want:?}"
        );
    }
}

/// Empirical frequencies match softmax(logits / T); a sampler ignoring T, k or p fails these tolerances.
#[test]
fn samplers_follow_their_distributions() {
    let logits = [1.0, 2.5, 0.2, 2.0, -1.0, 1.6];
    let all: Vec<usize> = (0..6).collect();
    let n = 120_000;
    let t = SamplerConfig {
        temperature: 0.7,
        ..SamplerConfig::GREEDY
    };
    assert_close(&frequencies(&logits, t, n), &softmax(&logits, 0.7, &all));
    let t = SamplerConfig {
        temperature: 1.5,
        ..SamplerConfig::GREEDY
    };
    assert_close(&frequencies(&logits, t, n), &softmax(&logits, 1.5, &all));
    let k = SamplerConfig {
        temperature: 1.0,
        top_k: 3,
        ..SamplerConfig::GREEDY
    };
    assert_close(
        &frequencies(&logits, k, n),
        &softmax(&logits, 1.0, &[1, 3, 5]),
    );
    // top-p 0.6 within top-k 5: p(1)=.43, p(3)=.26 reach .6 → keep {1, 3}.
    let p = SamplerConfig {
        temperature: 1.0,
        top_k: 5,
        top_p: 0.6,
        ..SamplerConfig::GREEDY
    };
    assert_close(&frequencies(&logits, p, n), &softmax(&logits, 1.0, &[1, 3]));
    let g = frequencies(&logits, SamplerConfig::GREEDY, 10);
    assert_eq!(g[1], 1.0);
}

/// The block path (whole blocks skipped by the reservoir's jumps, a new maximum in a later block rescaling the
/// sum) follows softmax too; greedy and top-k choose the same one row or one block at a time.
#[test]
fn block_sampling_follows_the_distribution() {
    let mut logits = vec![-2.0f32; 300];
    for (id, l) in [(10, 2.0), (100, 3.0), (250, 3.5), (299, 1.0), (64, 3.5)] {
        logits[id] = l;
    }
    let cfg = SamplerConfig {
        temperature: 1.0,
        ..SamplerConfig::GREEDY
    };
    let mut sel = Selector::<8>::new(cfg).unwrap();
    let mut rng = Rng::new(5);
    let n = 200_000;
    let mut counts = vec![0usize; logits.len()];
    for _ in 0..n {
        sel.begin();
        sel.push_block(0, &logits, &mut rng);
        counts[sel.finish(&mut rng) as usize] += 1;
    }
    let want = softmax(&logits, 1.0, &(0..300).collect::<Vec<_>>());
    let freq = |i: usize| counts[i] as f64 / n as f64;
    for id in [10, 64, 100, 250, 299] {
        assert!(
            (freq(id) - want[id]).abs() < 0.006,
            "token {id}: {} vs {}",
            freq(id),
            want[id]
        );
    }
    let rest: f64 = [10, 64, 100, 250, 299]
        .iter()
        .map(|&i| want[i])
        .sum::<f64>();
    let got_rest: f64 = [10, 64, 100, 250, 299]
        .iter()
        .map(|&i| freq(i))
        .sum::<f64>();
    assert!(
        ((1.0 - got_rest) - (1.0 - rest)).abs() < 0.006,
        "mass of the plain tokens"
    );
    assert!(
        counts.iter().filter(|&&c| c > 0).count() > 250,
        "plain tokens are sampled too"
    );

    for cfg in [
        SamplerConfig::GREEDY,
        SamplerConfig {
            top_k: 3,
            ..SamplerConfig::GREEDY
        },
    ] {
        let mut a = Selector::<8>::new(cfg).unwrap();
        let mut b = a.clone();
        a.begin();
        b.begin();
        a.push_block(0, &logits, &mut rng);
        for (i, &l) in logits.iter().enumerate() {
            b.push(i as u32, l, &mut rng);
        }
        // The two 3.5 logits tie: the lower id wins.
        assert_eq!((a.finish(&mut rng), b.finish(&mut rng)), (64, 64));
    }
}

/// Top-k keeps exactly the k best rows (higher logit, then lower id) through its selections, for many ties:
/// with a huge temperature every kept candidate is about equally likely, so the sampled ids are the kept set.
#[test]
fn top_k_keeps_exactly_the_best_rows() {
    let mut rng = Rng::new(11);
    for (v, k) in [(500usize, 5u32), (3000, 64), (70, 64), (40, 64)] {
        let logits: Vec<f32> = (0..v).map(|_| (rng.next_u32() % 12) as f32 * 0.5).collect();
        let mut order: Vec<usize> = (0..v).collect();
        order.sort_by(|&a, &b| logits[b].partial_cmp(&logits[a]).unwrap().then(a.cmp(&b)));
        let want: std::collections::BTreeSet<u32> =
            order.iter().take(k as usize).map(|&i| i as u32).collect();
        let cfg = SamplerConfig {
            temperature: 1e6,
            top_k: k,
            ..SamplerConfig::GREEDY
        };
        let mut sel = Selector::<64>::new(cfg).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..4000 {
            sel.begin();
            sel.push_block(0, &logits, &mut rng);
            seen.insert(sel.finish(&mut rng));
        }
        assert_eq!(seen, want, "V={v} k={k}");
    }
}

#[test]
fn repetition_penalty_changes_greedy_choice() {
    let mut p = quill_core::sampler::Penalty::default();
    p.record(7, 4);
    assert_eq!(p.apply(7, 2.0, 2.0), 1.0);
    assert_eq!(p.apply(7, -2.0, 2.0), -4.0);
    assert_eq!(p.apply(71, 2.0, 2.0), 2.0);
    let mut block = [2.0f32; 80];
    p.apply_block(0, &mut block, 2.0);
    assert_eq!(block.iter().filter(|&&l| l == 1.0).count(), 1);
    assert_eq!(block[7], 1.0);
    for t in [1, 2, 3, 4] {
        p.record(t, 4);
    }
    assert_eq!(p.apply(7, 2.0, 2.0), 2.0, "7 left the 4-token window");
}

#[test]
fn unknown_prompt_words_are_reported() {
    let bytes = model_bytes(false, DType::I8RowScaled);
    let m = Model::from_bytes(&bytes).unwrap();
    let mut g: Generator<64, 2, 8> = Generator::new(&m, SamplerConfig::GREEDY, 0).unwrap();
    let mut unknown = Vec::new();
    let mut echo = String::new();
    let primed = g
        .prime("the zebra people", &mut echo, |w| {
            unknown.push(w.to_string())
        })
        .unwrap();
    assert_eq!((primed.tokens, primed.unknown), (3, 1));
    assert_eq!(unknown, ["zebra"]);
    assert_eq!(
        echo, "The zebra people",
        "the prompt is echoed as typed, not as <unk>"
    );
}

/// A model whose `<unk>` (id 0) has by far the largest logit whatever the state: a dense bias of +40.
fn unk_loving_model(dtype: DType) -> Vec<u8> {
    let mut b = random_model(
        Hyper {
            vocab: 300,
            embed: 48,
            hidden: 48,
            layers: 1,
        },
        false,
        dtype,
        9,
    );
    b.dense_bias[0] = 40.0;
    b.to_bytes().unwrap()
}

#[test]
fn unknown_token_is_never_generated_unless_allowed() {
    let configs = [
        ("greedy", SamplerConfig::GREEDY),
        (
            "top-k",
            SamplerConfig {
                temperature: 1.0,
                top_k: 5,
                ..SamplerConfig::GREEDY
            },
        ),
        (
            "top-p",
            SamplerConfig {
                temperature: 1.0,
                top_p: 0.9,
                ..SamplerConfig::GREEDY
            },
        ),
        (
            "temperature",
            SamplerConfig {
                temperature: 1.5,
                ..SamplerConfig::GREEDY
            },
        ),
    ];
    for dtype in [DType::I8RowScaled, DType::F32] {
        let bytes = unk_loving_model(dtype);
        let m = Model::from_bytes(&bytes).unwrap();
        for (name, cfg) in configs {
            for float in [false, true] {
                if !float && dtype == DType::F32 {
                    continue;
                }
                let make = || -> Generator<64, 1, 64> {
                    if float {
                        Generator::new_float(&m, cfg, 3).unwrap()
                    } else {
                        Generator::new(&m, cfg, 3).unwrap()
                    }
                };
                let mut g = make();
                g.prime("the people", &mut String::new(), |_| {}).unwrap();
                let ids: Vec<u32> = g.by_ref().take(300).collect();
                assert!(!ids.contains(&0), "{name} float={float}: <unk> generated");
                let mut g = make().allow_unknown(true);
                g.prime("the people", &mut String::new(), |_| {}).unwrap();
                let ids: Vec<u32> = g.by_ref().take(50).collect();
                assert!(
                    ids.iter().filter(|&&id| id == 0).count() >= 45,
                    "{name} float={float}: allowed, the +40 logit should win: {ids:?}"
                );
            }
        }
    }
}

#[test]
fn prompts_longer_than_the_buffer_are_refused() {
    let bytes = model_bytes(false, DType::I8RowScaled);
    let m = Model::from_bytes(&bytes).unwrap();
    let mut g: Generator<64, 2, 8> = Generator::new(&m, SamplerConfig::GREEDY, 0).unwrap();
    let long = "the ".repeat(400);
    assert!(matches!(
        g.prime(&long, &mut String::new(), |_| {}),
        Err(quill_core::Error::CapacityTooSmall { what: "prompt", .. })
    ));
}

#[test]
fn seed_profile_pieces_and_detok() {
    let (mut a, mut b) = (String::new(), String::new());
    let n = normalize(
        Profile::Seed,
        "It was the best of times. It was\nthe worst_of times.\n\nPage 3",
        &mut a,
        &mut b,
    )
    .unwrap();
    assert_eq!(
        n,
        "it was the best of times. it wasthe worst_of times.\npage 3"
    );
    let mut v = Vec::new();
    pieces(Level::Word, Profile::Seed, n, |p| {
        v.push((p.text, p.sentence_end))
    });
    let words: Vec<&str> = v.iter().map(|p| p.0).collect();
    assert_eq!(
        words,
        [
            "it", "was", "the", "best", "of", "times", ".", "it", "wasthe", "worst", "of", "times",
            ".", "page", "3"
        ]
    );
    assert!(v[6].1 && !v[5].1);
    let spec = TokenizerSpec {
        level: Level::Word,
        profile: Profile::Seed,
        unknown: Unknown::Skip,
        sentence_end: None,
        capitalize: true,
    };
    let mut d = Detokenizer::new(&spec);
    let mut s = String::new();
    for w in &words[..8] {
        d.write(w, &mut s).unwrap();
    }
    assert_eq!(s, "It was the best of times. It");
}

#[test]
fn default_profile_edge_cases() {
    let (mut a, mut b) = (String::new(), String::new());
    let cases = [
        ("Page 12 begins", "begins"),
        ("HomePage 3 stays", "homepage 3 stays"),
        ("a co-\n  operative", "a cooperative"),
        ("end-\nPage 4\nnext", "end- next"),
        ("it’s “quoted” – ok", "it's \"quoted\" - ok"),
        ("  ($100) & 50%  ", "100 50"),
        ("tab\tand\r\nnewline", "tab and newline"),
    ];
    for (input, want) in cases {
        assert_eq!(
            normalize(Profile::Default, input, &mut a, &mut b).unwrap(),
            want,
            "{input:?}"
        );
    }
    let mut v = Vec::new();
    pieces(Level::Char, Profile::Default, "hé.", |p| v.push(p.text));
    assert_eq!(v, ["h", "é", "."]);
}

/// RAM of the generator state (README table): the board generator must leave most of a 64 KB budget free.
#[test]
fn size_of_generators() {
    let seed = std::mem::size_of::<Generator<'static, 160, 1, 64>>();
    let board = std::mem::size_of::<Generator<'static, 128, 1, 64>>();
    println!("size_of Generator<160, 1, 64> = {seed}, Generator<128, 1, 64> = {board}");
    assert!(board < 8 * 1024 && seed < 10 * 1024);
}
