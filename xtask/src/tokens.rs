//! `cargo xtask tokens [--minutes M] [--sentences N] [--rounds R] [--out DIR] [--arms word-8000,bpe-8192]`: word,
//! char and BPE token levels compared at equal training time (issue #11).
//!
//! Every arm trains a GRU with the same E = 100, H = 150 on the same cleaned text (the first N sentences of the
//! default corpus, `--profile cased` for all, so every arm predicts the same characters) for the same time budget
//! (`quill train --max-minutes`: no epoch starts that would end past it), keeping its best validation epoch; then
//! it is exported to int8. The table: held-out bits per character (each run's validation loss × its tokens ÷ the
//! characters of its validation text ÷ ln 2; `<unk>` counts as a token like any other — the word model is not
//! charged for spelling the words it lacks, so its figure flatters it; the share of `<unk>` is in the table),
//! tokens per character, model bytes, µs per greedy token (quill-core int8 on this CPU, best round, the arms
//! measured alternately `R` times so they share the machine; range over rounds), epochs and training seconds,
//! and a sample of each. Finished runs are kept: the same command measures again without training
//! (delete `DIR/<arm>` to retrain one).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::env::{self, cargo, json_field, run, stdout_of, workspace, Env};
use crate::DEMO_SAMPLER;

/// One token level under comparison.
struct Arm {
    /// Run folder name and table label.
    name: &'static str,
    /// `quill train --level`.
    level: &'static str,
    /// `--max-vocab`.
    vocab: &'static str,
    /// `--seq-len`: windows of roughly 100–200 characters at every level.
    seq_len: &'static str,
}

const ARMS: [Arm; 5] = [
    Arm {
        name: "word-8000",
        level: "word",
        vocab: "8000",
        seq_len: "35",
    },
    Arm {
        name: "char",
        level: "char",
        vocab: "512",
        seq_len: "100",
    },
    Arm {
        name: "bpe-1024",
        level: "bpe",
        vocab: "1024",
        seq_len: "50",
    },
    Arm {
        name: "bpe-4096",
        level: "bpe",
        vocab: "4096",
        seq_len: "50",
    },
    Arm {
        name: "bpe-8192",
        level: "bpe",
        vocab: "8192",
        seq_len: "50",
    },
];

/// Flags every arm shares.
const COMMON: &[&str] = &[
    "--cell",
    "gru",
    "--embed",
    "100",
    "--hidden",
    "150",
    "--profile",
    "cased",
    "--epochs",
    "50",
    "--patience",
    "0",
    "--batch",
    "32",
];

/// The prompt of the samples; their sampler is the demo's, seeded.
const PROMPT: &str = "The state of the Union";
const SEED: &[&str] = &["--seed", "1"];
/// Characters of each sample (the token count follows from the arm's tokens per character).
const SAMPLE_CHARS: f64 = 400.0;

struct Options {
    /// Indices into [`ARMS`], in table order.
    arms: Vec<usize>,
    minutes: String,
    sentences: String,
    rounds: usize,
    out: PathBuf,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        arms: (0..ARMS.len()).collect(),
        minutes: "5".into(),
        sentences: "10000".into(),
        rounds: 2,
        out: workspace().join("runs/tokens"),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--minutes" => {
                let v = value()?;
                if !v.parse::<f64>().is_ok_and(|m| m > 0.0) {
                    bail!("--minutes {v}: give the training budget per arm in minutes, such as 5");
                }
                o.minutes = v.clone();
            }
            "--sentences" => {
                let v = value()?;
                if !v.parse::<usize>().is_ok_and(|n| n > 0) {
                    bail!("--sentences {v}: give how many sentences of the corpus to use, such as 10000");
                }
                o.sentences = v.clone();
            }
            "--rounds" => {
                let v = value()?;
                o.rounds = v
                    .parse()
                    .ok()
                    .filter(|&r| r > 0)
                    .with_context(|| format!("--rounds {v}: give a number of rounds, such as 2"))?;
            }
            "--out" => o.out = PathBuf::from(value()?),
            "--arms" => {
                let v = value()?;
                o.arms = v
                    .split(',')
                    .map(|name| {
                        ARMS.iter().position(|a| a.name == name.trim()).with_context(|| {
                            let all: Vec<&str> = ARMS.iter().map(|a| a.name).collect();
                            format!("--arms: no arm {name:?}; the arms are {}", all.join(","))
                        })
                    })
                    .collect::<Result<_>>()?;
            }
            other => bail!(
                "unknown flag {other}; cargo xtask tokens [--minutes 5] [--sentences 10000] [--rounds 2] [--out runs/tokens] [--arms word-8000,char,bpe-1024,bpe-4096,bpe-8192]"
            ),
        }
    }
    Ok(o)
}

/// What one arm's run measured.
#[derive(Default)]
struct Measured {
    bits_per_char: f64,
    tokens_per_char: f64,
    best_epoch: usize,
    epochs: usize,
    seconds: f64,
    tokens_per_s: f64,
    unknown: Option<String>,
    bytes: u64,
    us: Vec<f64>,
    sample: String,
}

/// The best epoch of `metrics.jsonl` (least validation loss) and the run's totals.
fn read_metrics(dir: &Path, m: &mut Measured) -> Result<()> {
    let path = dir.join("metrics.jsonl");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let num = |line: &str, k: &str| json_field(line, k).and_then(|v| v.parse::<f64>().ok());
    let mut best: Option<(f64, &str)> = None;
    let (mut seconds, mut rate) = (0.0, 0.0);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in &lines {
        let loss = num(line, "val_loss")
            .with_context(|| format!("{}: a line without val_loss", path.display()))?;
        seconds += num(line, "seconds").unwrap_or(0.0);
        rate += num(line, "tokens_per_s").unwrap_or(0.0);
        if best.is_none_or(|(b, _)| loss < b) {
            best = Some((loss, line));
        }
    }
    let Some((loss, line)) = best else {
        bail!(
            "{} has no epochs; delete {} and run again",
            path.display(),
            dir.display()
        );
    };
    m.bits_per_char = num(line, "val_bits_per_char").with_context(|| {
        format!(
            "{} predates bits per character; delete {} and run again",
            path.display(),
            dir.display()
        )
    })?;
    m.tokens_per_char = m.bits_per_char * std::f64::consts::LN_2 / loss;
    m.best_epoch = num(line, "epoch").unwrap_or(0.0) as usize;
    m.epochs = lines.len();
    m.seconds = seconds;
    m.tokens_per_s = rate / lines.len() as f64;
    Ok(())
}

/// Trains and exports the arms that have no model yet; measures every arm; writes `DIR/tokens.md`.
pub fn run_cli(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let env = Env::setup()?;
    let quill = env.build_quill()?;
    let corpus = env::corpus()?.to_string_lossy().to_string();
    std::fs::create_dir_all(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    let arms: Vec<&Arm> = o.arms.iter().map(|&i| &ARMS[i]).collect();
    for arm in &arms {
        let dir = o.out.join(arm.name);
        let model = dir.join("model.quill");
        if model.exists() {
            eprintln!(
                "xtask: {} is trained ({}); keeping it",
                arm.name,
                model.display()
            );
            continue;
        }
        let d = dir.to_string_lossy().to_string();
        let mut train = env.command(&quill);
        train.args(["train", &corpus, "--out", &d]);
        if dir.join("last.ckpt").exists() {
            train.arg("--resume");
        } else {
            train.args(COMMON).args([
                "--level",
                arm.level,
                "--max-vocab",
                arm.vocab,
                "--seq-len",
                arm.seq_len,
                "--max-sentences",
                &o.sentences,
                "--max-minutes",
                &o.minutes,
            ]);
        }
        run(&mut train)?;
        run(env.command(&quill).args([
            "export",
            &d,
            "-o",
            &model.to_string_lossy(),
            "--eval-tokens",
            "2000",
        ]))?;
    }
    let mut measured: Vec<Measured> = Vec::new();
    for arm in &arms {
        let dir = o.out.join(arm.name);
        let mut m = Measured::default();
        read_metrics(&dir, &mut m)?;
        let model = dir.join("model.quill");
        m.bytes = std::fs::metadata(&model)?.len();
        let inspect = stdout_of(
            env.command(&quill)
                .args(["inspect", &dir.join("best.ckpt").to_string_lossy()]),
        )?;
        m.unknown = inspect
            .lines()
            .find(|l| l.contains("<unk> ("))
            .and_then(|l| l.split('(').nth(1))
            .map(|s| s.trim_end_matches(')').to_string());
        let tokens = (SAMPLE_CHARS * m.tokens_per_char)
            .ceil()
            .max(1.0)
            .to_string();
        let text = stdout_of(
            env.command(&quill)
                .args([
                    "generate",
                    &model.to_string_lossy(),
                    "--prompt",
                    PROMPT,
                    "--words",
                    &tokens,
                ])
                .args(DEMO_SAMPLER)
                .args(SEED),
        )?;
        m.sample = text.trim().to_string();
        measured.push(m);
    }
    // µs per token: every model in one process per round, rounds alternating, so the arms share the machine.
    let models: Vec<String> = arms
        .iter()
        .map(|a| {
            o.out
                .join(a.name)
                .join("model.quill")
                .to_string_lossy()
                .to_string()
        })
        .collect();
    for round in 0..o.rounds {
        eprintln!("xtask: µs/token, round {} of {}", round + 1, o.rounds);
        let out = stdout_of(
            cargo()
                .args([
                    "run",
                    "--release",
                    "-q",
                    "-p",
                    "quill-core",
                    "--example",
                    "token_min",
                    "--",
                ])
                .args(&models),
        )?;
        for line in out.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            let (Some(path), Some(us)) = (w.first(), w.len().checked_sub(2).and_then(|i| w.get(i)))
            else {
                continue;
            };
            if let (Some(i), Ok(us)) = (models.iter().position(|m| m == path), us.parse::<f64>()) {
                measured[i].us.push(us);
            }
        }
    }
    let report = table(&o, &arms, &measured);
    let path = o.out.join("tokens.md");
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, &report)?;
    std::fs::rename(&tmp, &path)?;
    println!("{report}");
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}

fn range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match v.len() {
        0 => "—".into(),
        1 => format!("{lo:.1}"),
        _ => format!("{lo:.1}–{hi:.1}"),
    }
}

fn table(o: &Options, arms: &[&Arm], measured: &[Measured]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Token levels at equal training time\n\n`cargo xtask tokens --minutes {} --sentences {} --rounds {} --arms {}`: GRU, E = 100, H = 150, the first {} sentences of \
         the default corpus (`--profile cased`), {} minutes of training each, best validation epoch, int8.\n",
        o.minutes,
        o.sentences,
        o.rounds,
        arms.iter().map(|a| a.name).collect::<Vec<_>>().join(","),
        o.sentences,
        o.minutes
    );
    let _ = writeln!(
        s,
        "| level | V | held-out bits/char | tokens/char | <unk> | model bytes | µs/token greedy | epochs (best) | training s | tokens/s |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (arm, m) in arms.iter().zip(measured) {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.3} | {} | {} | {} | {} ({}) | {:.0} | {:.0} |",
            arm.level,
            arm.vocab,
            m.bits_per_char,
            m.tokens_per_char,
            m.unknown.as_deref().unwrap_or("none"),
            m.bytes,
            range(&m.us),
            m.epochs,
            m.best_epoch,
            m.seconds,
            m.tokens_per_s
        );
    }
    let _ = writeln!(
        s,
        "\nSamples: `quill generate <model> --prompt \"{PROMPT}\" {}`, about {SAMPLE_CHARS:.0} characters of tokens.\n",
        [DEMO_SAMPLER, SEED].concat().join(" ")
    );
    for (arm, m) in arms.iter().zip(measured) {
        let _ = writeln!(s, "**{}**: {}\n", arm.name, m.sample);
    }
    s
}
