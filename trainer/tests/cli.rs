//! The `quill` binary as a user meets it: flags checked before any work, run folders accepted, prompts echoed
//! as typed, files that are neither model nor checkpoint named as such.

use std::path::Path;
use std::process::{Command, Output};

fn quill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quill"))
        .args(args)
        .output()
        .expect("run quill")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn corpus(dir: &Path) -> String {
    let subjects = ["The people", "Our nation", "The congress", "Every citizen"];
    let verbs = ["will defend", "must protect", "shall build", "can trust"];
    let objects = ["our freedom", "the law", "the future", "peace and justice"];
    let mut s = String::new();
    for i in 0..400 {
        s += &format!(
            "{} {} {}. ",
            subjects[i % 4],
            verbs[(i / 4) % 4],
            objects[(i / 16) % 4]
        );
    }
    let path = dir.join("corpus.txt");
    std::fs::write(&path, s).unwrap();
    path.to_string_lossy().to_string()
}

/// Trains a tiny run (one epoch, E=H=16) on `corpus` into `dir/name`, with `extra` flags; returns the folder.
fn train_tiny(dir: &Path, corpus: &str, name: &str, extra: &[&str]) -> String {
    let run = dir.join(name).to_string_lossy().to_string();
    let mut args = vec![
        "train",
        corpus,
        "--out",
        &run,
        "--epochs",
        "1",
        "--embed",
        "16",
        "--hidden",
        "16",
        "--batch",
        "8",
        "--seq-len",
        "10",
        "--device",
        "cpu",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = quill(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    run
}

#[test]
fn bad_settings_fail_before_any_data_is_read() {
    // The corpus does not exist: an error about the flag proves the settings were checked first.
    for (flags, want) in [
        (&["--layers", "5"][..], "--layers 5"),
        (
            &["--tie", "--embed", "64", "--hidden", "96"][..],
            "--tie needs --embed equal to --hidden",
        ),
        (&["--val-split", "0"][..], "--val-split"),
        (&["--hidden", "20000"][..], "--hidden 20000"),
        (&["--device", "tpu"][..], "unknown device tpu"),
    ] {
        let mut args = vec![
            "train",
            "/nonexistent/corpus.txt",
            "--out",
            "/nonexistent/run",
        ];
        args.extend_from_slice(flags);
        let out = quill(&args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{flags:?} should fail");
        assert!(err.contains(want), "{flags:?}: {err}");
        assert!(
            !err.contains("does not exist"),
            "{flags:?} read the corpus first: {err}"
        );
    }
}

#[test]
fn a_run_folder_generates_and_the_prompt_is_echoed_as_typed() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let run_s = train_tiny(dir.path(), &corpus, "run", &[]);
    let run = std::path::PathBuf::from(&run_s);
    assert!(run.join("loss.png").exists());
    let out = quill(&[
        "generate",
        &run_s,
        "--prompt",
        "Zebras graze",
        "--words",
        "8",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("Zebras graze "), "{stdout}");
    assert!(!stdout.contains("<unk>"), "{stdout}");
    assert!(
        stderr.contains("zebras") && stderr.contains("graze"),
        "unknown words reported: {stderr}"
    );
    assert!(stderr.contains("quantized to int8 in memory"), "{stderr}");
    let model = dir.path().join("m.quill").to_string_lossy().to_string();
    assert!(
        quill(&["export", &run_s, "-o", &model, "--eval-tokens", "50"])
            .status
            .success()
    );
    let from_file = quill(&[
        "generate",
        &model,
        "--prompt",
        "Zebras graze",
        "--words",
        "8",
    ]);
    assert_eq!(
        text(&from_file.stdout),
        stdout,
        "the run folder's checkpoint, quantized, is the exported model"
    );
    let float = quill(&[
        "generate",
        &run_s,
        "--float",
        "--prompt",
        "the people",
        "--words",
        "5",
    ]);
    assert!(float.status.success(), "{}", text(&float.stderr));
}

#[test]
fn inspect_names_a_file_that_is_neither_model_nor_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "hello").unwrap();
    let out = quill(&["inspect", &notes.to_string_lossy()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("neither a quill model file nor a quill checkpoint"),
        "{err}"
    );
}

#[test]
fn a_gru_trains_exports_inspects_and_generates() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let run_s = train_tiny(
        dir.path(),
        &corpus,
        "gru",
        &["--cell", "gru", "--layers", "2"],
    );
    let model = dir.path().join("gru.quill").to_string_lossy().to_string();
    let out = quill(&["export", &run_s, "-o", &model, "--eval-tokens", "50"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info = text(&quill(&["inspect", &model]).stdout);
    assert!(
        info.contains("cell=gru") && info.contains("layers=2"),
        "{info}"
    );
    assert!(info.contains("format v2"), "{info}");
    let ck = text(&quill(&["inspect", &run_s]).stdout);
    assert!(ck.contains("cell: Gru"), "{ck}");
    for source in [&model, &run_s] {
        let out = quill(&["generate", source, "--prompt", "the people", "--words", "6"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).starts_with("The people"),
            "{}",
            text(&out.stdout)
        );
    }
    let float = quill(&[
        "generate",
        &run_s,
        "--float",
        "--prompt",
        "the people",
        "--words",
        "6",
    ]);
    assert!(float.status.success(), "{}", text(&float.stderr));
    let eval = quill(&["eval", &model, &corpus]);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
}

#[test]
fn generate_stats_measure_each_text_and_the_mean() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let run_s = train_tiny(dir.path(), &corpus, "run", &[]);
    let out = quill(&[
        "generate",
        &run_s,
        "--prompt",
        "the people",
        "--words",
        "60",
        "--count",
        "3",
        "--temperature",
        "1",
        "--stats",
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches("stats: distinct-2 ").count(), 3, "{err}");
    assert!(
        err.contains("stats over 3 texts of 60 tokens: distinct-2 "),
        "{err}"
    );
    assert_eq!(
        text(&out.stdout).lines().count(),
        3,
        "the texts stay on stdout"
    );
}

#[test]
fn a_study_trains_measures_reports_and_keeps_its_finished_runs() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let out = dir.path().join("study").to_string_lossy().to_string();
    let args = |hidden: &'static str| {
        vec![
            "study",
            corpus.as_str(),
            "--out",
            out.as_str(),
            "--cells",
            "gru",
            "--levels",
            "char,word",
            "--epochs",
            "1",
            "--embed",
            "8",
            "--hidden",
            hidden,
            "--reference-hidden",
            "24",
            "--samples",
            "3",
            "--sample-words",
            "12",
            "--device",
            "cpu",
        ]
    };
    let first = quill(&args("16"));
    let err = text(&first.stderr);
    assert!(first.status.success(), "{err}");
    let path = |f: &str| dir.path().join("study").join(f);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path("study.json")).unwrap()).unwrap();
    let arms = report["arms"].as_array().unwrap();
    let names: Vec<&str> = arms.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "gru-teacher-char",
            "gru-scheduled-char",
            "gru-professor-char",
            "gru-teacher-word",
            "gru-scheduled-word",
            "gru-professor-word"
        ]
    );
    for a in arms {
        let bpc = a["val_bits_per_char"].as_f64().unwrap();
        assert!(bpc > 0.0 && bpc < 10.0, "{a}");
        for mode in ["greedy", "sampled"] {
            assert_eq!(a[mode]["samples"], 3, "{a}");
        }
        // Every word model writes its 12 words; scheduled sampling and Professor Forcing report their own numbers.
        if a["level"] == "word" {
            assert_eq!(a["sampled"]["words"], 12, "{a}");
        }
        assert_eq!(
            a["self_fed"].is_number(),
            a["forcing"] == "scheduled",
            "{a}"
        );
        assert_eq!(
            a["discriminator_accuracy"].is_number(),
            a["forcing"] == "professor",
            "{a}"
        );
    }
    let held = &report["reference"]["held_out"];
    assert!(
        held["fluency_bits_per_char"].as_f64().unwrap() > 0.0,
        "{held}"
    );
    assert_eq!(held["words"], 12, "{held}");
    assert_eq!(report["prompts"].as_array().unwrap().len(), 3);
    let md = std::fs::read_to_string(path("study.md")).unwrap();
    assert!(
        md.contains("| gru-professor-word |") && md.contains("*held-out text itself*"),
        "{md}"
    );
    assert!(std::fs::read(path("study.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
    let samples = std::fs::read_to_string(path("samples/gru-scheduled-char.md")).unwrap();
    assert_eq!(
        samples.matches("\n3. fluency ").count(),
        2,
        "three samples per mode: {samples}"
    );

    // The same command again keeps every run and measures again; other settings in the same folder are refused.
    let again = quill(&args("16"));
    let err = text(&again.stderr);
    assert!(again.status.success(), "{err}");
    assert_eq!(err.matches("kept the finished run").count(), 7, "{err}");
    let other = quill(&args("20"));
    let err = text(&other.stderr);
    assert!(!other.status.success());
    assert!(
        err.contains("other settings") && err.contains("--out"),
        "{err}"
    );
}

#[test]
fn a_cased_model_keeps_the_corpus_capitals() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let run_s = dir.path().join("cased").to_string_lossy().to_string();
    let train = quill(&[
        "train",
        &corpus,
        "--out",
        &run_s,
        "--profile",
        "cased",
        "--epochs",
        "4",
        "--embed",
        "32",
        "--hidden",
        "32",
        "--batch",
        "8",
        "--seq-len",
        "10",
        "--patience",
        "0",
        "--device",
        "cpu",
        "--json",
    ]);
    assert!(train.status.success(), "{}", text(&train.stderr));
    let out = quill(&[
        "generate",
        &run_s,
        "--prompt",
        "The people",
        "--words",
        "40",
    ]);
    let text = text(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sentences of the corpus start with "The", "Our", "Every": a cased model writes them itself.
    assert!(
        [". The ", ". Our ", ". Every "]
            .iter()
            .any(|s| text.contains(s)),
        "{text}"
    );
    let inspect = quill(&["inspect", &format!("{run_s}/best.ckpt")]);
    assert!(inspect.status.success());
}

#[test]
fn a_bpe_model_takes_any_prompt_and_never_prints_unk() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let run = train_tiny(
        dir.path(),
        &corpus,
        "bpe",
        &["--level", "bpe", "--max-vocab", "300"],
    );
    // The run reports bits per character beside perplexity.
    let metrics = std::fs::read_to_string(format!("{run}/metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"val_bits_per_char\":"), "{metrics}");
    let model = dir.path().join("bpe.quill").to_string_lossy().to_string();
    let export = quill(&["export", &run, "-o", &model]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let inspect = quill(&["inspect", &model]);
    let shown = text(&inspect.stdout);
    assert!(
        shown.contains("Bpe") && shown.contains("the 256 bytes and 44 merges"),
        "{shown}"
    );
    // Words the corpus never had, another script, symbols, case: the prompt is echoed whole (the `text`
    // profile keeps it as it is), nothing is unknown.
    let prompt = "Zebras of Zürich (中文) paid €5 and will defend";
    for source in [&model, &run] {
        let mut args = vec![
            "generate",
            source.as_str(),
            "--prompt",
            prompt,
            "--words",
            "30",
        ];
        if source == &run {
            args.push("--float");
        }
        let out = quill(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let (said, err) = (text(&out.stdout), text(&out.stderr));
        assert!(said.starts_with(prompt), "{said}");
        assert!(
            !said.contains("<unk>") && !err.contains("not in the vocabulary"),
            "{said}{err}"
        );
    }
    // quill eval reads the BPE model file and its checkpoint alike.
    for source in [&model, &run] {
        let out = quill(&["eval", source, &corpus, "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("\"bits_per_char\":"));
    }
    // Fewer than one merge is refused before any data is read.
    let bad = quill(&["train", "nope.txt", "--level", "bpe", "--max-vocab", "256"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("--max-vocab 256"),
        "{}",
        text(&bad.stderr)
    );
}
