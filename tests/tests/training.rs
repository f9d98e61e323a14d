//! Training end to end on a tiny synthetic corpus: resume, libtorch vs quill-core, int8 vs float, generation.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use quill_core::{DType, Generator, Model, SamplerConfig};
use quill_tests::write_corpus;
use quill_trainer::checkpoint;
use quill_trainer::data::Context;
use quill_trainer::forcing::Forcing;
use quill_trainer::generate::{self, GenerateOptions};
use quill_trainer::net::Cell;
use quill_trainer::settings::TrainSettings;
use quill_trainer::source::Source;
use quill_trainer::train::{self, RunOptions};
use quill_trainer::{atomic, dataset, export, perplexity};

/// libtorch's RNG (dropout, initialization) is global: tests that train take turns.
static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    TORCH.lock().unwrap_or_else(|e| e.into_inner())
}

fn settings(corpus: &std::path::Path, epochs: usize, context: Context) -> TrainSettings {
    TrainSettings {
        corpus: vec![corpus.to_string_lossy().to_string()],
        encoding: quill_trainer::corpus::Encoding::Utf8,
        profile: quill_core::Profile::Default,
        level: quill_core::Level::Word,
        max_vocab: 200,
        min_count: 1,
        max_sentences: 0,
        max_tokens: 0,
        context,
        seq_len: 12,
        batch: 8,
        epochs,
        lr: 0.01,
        clip: 1.0,
        patience: 0,
        max_minutes: 0.0,
        seed: 3,
        val_split: 0.2,
        cell: Cell::Lstm,
        embed: 16,
        hidden: 24,
        layers: 1,
        dropout: 0.1,
        tie: false,
        forcing: Default::default(),
        schedule: quill_trainer::settings::default_schedule(),
        professor: Default::default(),
    }
}

fn opts(out: &std::path::Path, resume: bool) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        resume,
        device: "cpu".into(),
        json: true,
        interrupt: Arc::new(AtomicBool::new(false)),
    }
}

fn params(path: &std::path::Path) -> Vec<(String, Vec<f32>)> {
    let ck = checkpoint::load(path, tch::Device::Cpu).unwrap();
    ck.net
        .named_parameters()
        .into_iter()
        .map(|(n, t)| (n, Vec::<f32>::try_from(t.reshape([-1])).unwrap()))
        .collect()
}

#[test]
fn resume_gives_the_same_weights_as_an_uninterrupted_run() {
    resume_is_exact(Cell::Lstm);
}

#[test]
fn gru_resume_gives_the_same_weights_as_an_uninterrupted_run() {
    resume_is_exact(Cell::Gru);
}

/// Scheduled sampling with ε = 1 throughout is teacher forcing, bit for bit; with ε decaying it changes the
/// weights, feeds the model some of its own tokens, and still resumes exactly.
#[test]
fn scheduled_sampling_at_epsilon_one_is_teacher_forcing_and_resumes_exactly() {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path(), 300, 1);
    let with = |forcing, k: f64, epochs| TrainSettings {
        forcing,
        schedule: quill_trainer::forcing::Schedule {
            decay: quill_trainer::forcing::Decay::Linear,
            k,
            min: 0.0,
        },
        ..settings(&corpus, epochs, Context::Stream)
    };
    let run = |name: &str, s: TrainSettings, resume: bool| {
        let out = dir.path().join(name);
        let outcome = train::run(s, &opts(&out, resume)).unwrap();
        (params(&out.join("last.ckpt")), outcome)
    };
    let (teacher, _) = run("teacher", with(Forcing::Teacher, 1e30, 2), false);
    let (eps_one, o) = run("eps1", with(Forcing::Scheduled, 1e30, 2), false);
    assert_eq!(o.history[1].scheduled, Some((1.0, 0.0)));
    for ((name, x), (_, y)) in teacher.iter().zip(&eps_one) {
        assert!(x == y, "{name}: ε = 1 differs from teacher forcing");
    }
    // ε falls linearly to 0 over 40 steps: most late inputs are the model's own.
    let (straight, o) = run("sched", with(Forcing::Scheduled, 40.0, 3), false);
    let (eps, own) = o.history[2].scheduled.unwrap();
    assert_eq!(eps, 0.0);
    assert!(own > 0.3, "own-input fraction {own}");
    assert!(straight.iter().zip(&teacher).any(|((_, a), (_, b))| a != b));
    run("split", with(Forcing::Scheduled, 40.0, 1), false);
    let (split, _) = run("split", with(Forcing::Scheduled, 40.0, 3), true);
    for ((name, x), (_, y)) in straight.iter().zip(&split) {
        assert!(x == y, "{name}: a resumed scheduled run differs");
    }
}

/// A short Professor Forcing run trains (the discriminator judges every batch), resumes exactly (the
/// discriminator travels in the checkpoint) and exports a model quill-core loads, without the discriminator.
#[test]
fn professor_forcing_trains_resumes_exactly_and_exports() {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path(), 300, 1);
    let with = |epochs| TrainSettings {
        forcing: Forcing::Professor,
        cell: Cell::Gru,
        professor: quill_trainer::settings::ProfessorSettings {
            len: 8,
            width: 16,
            ..Default::default()
        },
        ..settings(&corpus, epochs, Context::Stream)
    };
    let (straight, split) = (dir.path().join("straight"), dir.path().join("split"));
    let outcome = train::run(with(3), &opts(&straight, false)).unwrap();
    let last = outcome.history.last().unwrap();
    let (acc, open) = last.professor.unwrap();
    println!(
        "professor: discriminator accuracy {acc:.3}, gate open {open:.2}; val loss {:?}",
        outcome
            .history
            .iter()
            .map(|m| m.val_loss)
            .collect::<Vec<_>>()
    );
    assert!((0.0..=1.0).contains(&acc) && (0.0..=1.0).contains(&open));
    assert!(outcome.history[2].val_loss < outcome.history[0].val_loss);
    train::run(with(1), &opts(&split, false)).unwrap();
    train::run(with(3), &opts(&split, true)).unwrap();
    let ck =
        |d: &std::path::Path| checkpoint::load(&d.join("last.ckpt"), tch::Device::Cpu).unwrap();
    let (a, b) = (ck(&straight), ck(&split));
    assert!(
        !a.extra.is_empty(),
        "the discriminator is in the checkpoint"
    );
    for ((name, x), (_, y)) in a.extra.iter().zip(&b.extra) {
        assert!(x.equal(y), "discriminator {name}: a resumed run differs");
    }
    for ((name, x), (_, y)) in params(&straight.join("last.ckpt"))
        .iter()
        .zip(&params(&split.join("last.ckpt")))
    {
        assert!(x == y, "{name}: a resumed Professor Forcing run differs");
    }
    let (builder, _) = export::build(&a, DType::I8RowScaled).unwrap();
    let bytes = builder.to_bytes().unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    // The generator alone (b_ih + b_hh fused but b_hn): nothing of the discriminator.
    let h = a.net.cfg.hidden as usize;
    assert_eq!(model.kind(), quill_core::ModelKind::Gru);
    assert_eq!(
        model.parameter_count() + 2 * h,
        a.net.parameter_count() as usize
    );
}

fn resume_is_exact(cell: Cell) {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path(), 300, 1);
    let (straight, split) = (dir.path().join("straight"), dir.path().join("split"));
    let settings = |corpus: &std::path::Path, epochs, context| TrainSettings {
        cell,
        ..settings(corpus, epochs, context)
    };
    let outcome = train::run(
        settings(&corpus, 3, Context::Stream),
        &opts(&straight, false),
    )
    .unwrap();
    assert_eq!(outcome.history.len(), 3);
    assert!(
        outcome.history[2].val_loss < outcome.history[0].val_loss,
        "{:?}",
        outcome.history
    );
    train::run(settings(&corpus, 1, Context::Stream), &opts(&split, false)).unwrap();
    train::run(settings(&corpus, 3, Context::Stream), &opts(&split, true)).unwrap();
    let (a, b) = (
        params(&straight.join("last.ckpt")),
        params(&split.join("last.ckpt")),
    );
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        let diff = x.iter().zip(y).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(
            diff == 0.0,
            "{name}: resumed weights differ by up to {diff}"
        );
    }
    assert!(straight.join("loss.png").exists() && straight.join("metrics.jsonl").exists());
}

#[test]
fn core_float_path_reproduces_libtorch_and_int8_stays_close() {
    float_and_int8_match(Cell::Lstm, 1, 1e-4, 0.02);
}

#[test]
fn gru_core_float_path_reproduces_libtorch_one_layer() {
    float_and_int8_match(Cell::Gru, 1, 1e-5, 0.01);
}

#[test]
fn gru_core_float_path_reproduces_libtorch_two_layers() {
    float_and_int8_match(Cell::Gru, 2, 1e-5, 0.01);
}

/// Trains `cell` × `layers` briefly, then: quill-core's float path against libtorch step by step with carried
/// state (max |Δlogit| ≤ `tol` over 300 steps), and int8 validation perplexity within `ppl_tol` of libtorch's.
fn float_and_int8_match(cell: Cell, layers: i64, tol: f32, ppl_tol: f64) {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path(), 400, 2);
    let out = dir.path().join("run");
    let s = TrainSettings {
        cell,
        layers,
        ..settings(&corpus, 4, Context::Sentence)
    };
    train::run(s, &opts(&out, false)).unwrap();
    let ck = checkpoint::load(&out.join("best.ckpt"), tch::Device::Cpu).unwrap();
    assert_eq!(ck.net.cfg.cell, cell);

    // f32 export: quill-core's float path against libtorch, step by step with carried state.
    let (b, _) = export::build(&ck, DType::F32).unwrap();
    let bytes = b.to_bytes().unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.kind(), cell.kind());
    let mut g: Generator<32, 2, 8> =
        Generator::new_float(&model, SamplerConfig::GREEDY, 0).unwrap();
    let mut state = ck.net.zero_state(1);
    let mut ours = vec![0f32; model.hyper().vocab as usize];
    let mut worst = 0f32;
    for (i, &tok) in ck.val_tokens.iter().take(300).enumerate() {
        let (theirs, next) = ck.net.step_logits(&state, tok).unwrap();
        state = next;
        g.feed(tok);
        g.logits(&mut ours).unwrap();
        let err = ours
            .iter()
            .zip(&theirs)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        worst = worst.max(err);
        assert!(
            err <= tol,
            "{cell:?} step {i}: max |core - libtorch| = {err}"
        );
    }
    println!(
        "{cell:?} x{layers} core f32 vs libtorch: worst logit difference {worst:e} over 300 steps"
    );

    // int8 export: validation perplexity close to libtorch's.
    let (b, _) = export::build(&ck, DType::I8RowScaled).unwrap();
    let bytes = b.to_bytes().unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    let n = ck.val_tokens.len().min(3000);
    let (toks, ends) = (&ck.val_tokens[..n], &ck.val_ends[..n]);
    let float = perplexity::float_loss(&ck.net, toks, ends, true)
        .unwrap()
        .exp();
    let int8 = perplexity::core_loss(&model, false, toks, ends, true)
        .unwrap()
        .exp();
    println!("{cell:?} x{layers} validation perplexity: libtorch f32 {float:.3}, quill-core int8 {int8:.3}");
    // int4 (every matrix): perplexity still close. (These matrices are tiny, so the 32-row blocks and 32-column
    // groups pad them to about int8's size; at real sizes int4 is 0.65x the file, README "4-bit weights".)
    let (b, _) = export::build(&ck, DType::I4GroupScaled).unwrap();
    let bytes4 = b.to_bytes().unwrap();
    let model4 = Model::from_bytes(&bytes4).unwrap();
    let int4 = perplexity::core_loss(&model4, false, toks, ends, true)
        .unwrap()
        .exp();
    println!(
        "{cell:?} x{layers} quill-core int4 {int4:.3} ({} vs {} bytes)",
        bytes4.len(),
        bytes.len()
    );
    assert!(
        (int4 / float - 1.0).abs() < 0.05,
        "int4 {int4} vs float {float}"
    );
    assert!(
        (int8 / float - 1.0).abs() < ppl_tol,
        "int8 {int8} vs float {float}"
    );
    assert!(
        float < 30.0,
        "the model did not learn the grammar: ppl {float}"
    );
}

#[test]
fn export_load_generate_is_deterministic() {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path(), 200, 4);
    let out = dir.path().join("run");
    train::run(settings(&corpus, 2, Context::Stream), &opts(&out, false)).unwrap();
    let ck = checkpoint::load(&out.join("best.ckpt"), tch::Device::Cpu).unwrap();
    let bytes = export::build(&ck, DType::I8RowScaled)
        .unwrap()
        .0
        .to_bytes()
        .unwrap();
    let path = dir.path().join("m.quill");
    atomic::write(&path, &bytes).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let run = |seed: u64| {
        let opts = GenerateOptions {
            prompt: "The people will zebra".into(),
            words: 25,
            count: 2,
            config: SamplerConfig {
                temperature: 0.9,
                top_k: 10,
                top_p: 0.95,
                repetition_penalty: 1.2,
                penalty_window: 16,
            },
            seed,
            allow_unk: false,
            stats: false,
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        generate::with_core(&bytes, &opts, &mut out, &mut err).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    };
    let (a, note) = run(5);
    assert_eq!(run(5).0, a);
    assert_ne!(run(6).0, a);
    assert!(
        a.starts_with("The people will zebra"),
        "the prompt is echoed as typed: {a}"
    );
    assert!(
        note.contains("zebra"),
        "unknown prompt words are reported: {note}"
    );
    assert_eq!(a.lines().count(), 2);
}

/// A model trained with a vocabulary so small that `<unk>` is its most frequent token: without the ban it is what
/// greedy decoding would print. Neither engine prints it unless asked, under any sampler.
#[test]
fn unk_is_never_generated_unless_allowed_core_and_float() {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path(), 300, 6);
    let out = dir.path().join("run");
    let mut s = settings(&corpus, 2, Context::Stream);
    s.max_vocab = 8;
    train::run(s, &opts(&out, false)).unwrap();
    let ck = checkpoint::load(&out.join("best.ckpt"), tch::Device::Cpu).unwrap();
    let bytes = export::build(&ck, DType::I8RowScaled)
        .unwrap()
        .0
        .to_bytes()
        .unwrap();
    let samplers = [
        SamplerConfig::GREEDY,
        SamplerConfig {
            temperature: 1.0,
            top_k: 5,
            ..SamplerConfig::GREEDY
        },
        SamplerConfig {
            temperature: 1.0,
            top_p: 0.9,
            ..SamplerConfig::GREEDY
        },
        SamplerConfig {
            temperature: 1.2,
            ..SamplerConfig::GREEDY
        },
    ];
    let text = |config, allow_unk, float: bool| {
        let o = GenerateOptions {
            prompt: "the people".into(),
            words: 120,
            count: 2,
            config,
            seed: 1,
            allow_unk,
            stats: false,
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        if float {
            generate::with_checkpoint(&ck, &o, &mut out, &mut err).unwrap();
        } else {
            generate::with_core(&bytes, &o, &mut out, &mut err).unwrap();
        }
        String::from_utf8(out).unwrap()
    };
    for config in samplers {
        for float in [false, true] {
            let t = text(config, false, float);
            assert!(!t.contains("<unk>"), "{config:?} float={float}: {t}");
        }
    }
    for float in [false, true] {
        let t = text(SamplerConfig::GREEDY, true, float);
        assert!(
            t.contains("<unk>"),
            "allowed, greedy picks the most frequent token: {t}"
        );
    }
}

#[test]
fn a_run_folder_names_its_model_or_its_best_checkpoint() {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path(), 200, 7);
    let out = dir.path().join("run");
    train::run(settings(&corpus, 1, Context::Stream), &opts(&out, false)).unwrap();
    match Source::open(&out).unwrap() {
        Source::Checkpoint(p) => assert_eq!(p, out.join("best.ckpt")),
        Source::Model(..) => panic!("no model.quill yet"),
    }
    let ck = checkpoint::load(&out.join("best.ckpt"), tch::Device::Cpu).unwrap();
    let bytes = export::build(&ck, DType::I8RowScaled)
        .unwrap()
        .0
        .to_bytes()
        .unwrap();
    atomic::write(&out.join("model.quill"), &bytes).unwrap();
    match Source::open(&out).unwrap() {
        Source::Model(b, p) => assert_eq!((b, p), (bytes, out.join("model.quill"))),
        Source::Checkpoint(_) => panic!("model.quill is preferred once exported"),
    }
    let empty = dir.path().join("empty-folder");
    std::fs::create_dir(&empty).unwrap();
    let err = Source::open(&empty).err().unwrap().to_string();
    assert!(
        err.contains("no best.ckpt") && err.contains("--out"),
        "{err}"
    );
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "just some text").unwrap();
    let err = checkpoint::load(&text, tch::Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("neither a quill model file nor a quill checkpoint"),
        "{err}"
    );
    let err = checkpoint::load(&out.join("model.quill"), tch::Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("is a quill model file, not a checkpoint"),
        "{err}"
    );
}

#[test]
fn empty_and_tiny_corpora_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let err = dataset::prepare(&settings(&empty, 1, Context::Stream), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("fewer than 2 distinct tokens") || err.contains("too small"),
        "{err}"
    );
    let tiny = dir.path().join("tiny.txt");
    std::fs::write(&tiny, "The people. The nation. The union.").unwrap();
    let err = dataset::prepare(&settings(&tiny, 1, Context::Stream), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("too small"), "{err}");
    let missing = dir.path().join("nope.txt");
    let err = dataset::prepare(&settings(&missing, 1, Context::Stream), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
}
