//! `cargo xtask bench-train [--peer] [--cells lstm,gru] [--batch 32,64,256] [--tokens N] [--rounds R]`: training
//! throughput of `quill train` (predicted tokens per second of the training steps) for each cell, and with
//! `--peer` side by side with PyTorch in Python (`xtask/peer/train_peer.py`, same network, recipe and batch
//! shapes), alternating runs so all see the same machine, with the ratio quill / PyTorch per cell and batch.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::env::{self, json_field, stdout_of, workspace, Env};

/// The network and window both engines train: E=100, H=150, 35 tokens per window (V=8,000 is passed apart:
/// `quill train` takes the most frequent 8,000 tokens, the peer draws ids below 8,000).
const SHAPE: [&str; 6] = ["--embed", "100", "--hidden", "150", "--seq-len", "35"];

struct Options {
    peer: bool,
    cells: Vec<String>,
    batches: Vec<usize>,
    tokens: usize,
    rounds: usize,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        peer: false,
        cells: vec!["lstm".into()],
        batches: vec![32, 64, 256],
        tokens: 120_000,
        rounds: 2,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--peer" => o.peer = true,
            "--batch" => {
                o.batches = value()?
                    .split(',')
                    .map(|b| b.trim().parse().context("--batch takes sizes like 32,64,256"))
                    .collect::<Result<_>>()?
            }
            "--cells" => {
                o.cells = value()?.split(',').map(|c| c.trim().to_string()).collect();
                if let Some(bad) = o.cells.iter().find(|c| *c != "lstm" && *c != "gru") {
                    bail!("--cells {bad}: use lstm, gru or lstm,gru");
                }
            }
            "--tokens" => o.tokens = value()?.parse().context("--tokens takes a number")?,
            "--rounds" => o.rounds = value()?.parse().context("--rounds takes a number")?,
            other => bail!("unknown flag {other}; bench-train takes --peer, --cells lstm,gru, --batch 32,64,256, --tokens N, --rounds R"),
        }
    }
    if o.batches.is_empty() || o.cells.is_empty() || o.rounds == 0 || o.tokens < 10_000 {
        bail!("bench-train needs at least one batch size, one round and 10,000 tokens");
    }
    Ok(o)
}

/// The `tokens_per_s` of the JSON object on the last line of `stdout` that has one.
fn tokens_per_s(stdout: &str) -> Result<f64> {
    stdout
        .lines()
        .rev()
        .find_map(|l| json_field(l, "tokens_per_s")?.parse().ok())
        .with_context(|| format!("no tokens_per_s in the output:\n{stdout}"))
}

fn output(cmd: &mut Command) -> Result<f64> {
    tokens_per_s(&stdout_of(cmd)?)
}

fn range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.0}–{hi:.0}")
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Runs the job.
pub fn run_cli(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let env = Env::setup()?;
    let corpus = env::corpus()?.to_string_lossy().to_string();
    let quill = env.build_quill()?;
    let out = std::env::temp_dir().join("quill-bench-train");
    // quill holds out 20% for validation: ask for tokens / 0.8 so both train on `tokens`.
    let max_tokens = (o.tokens as f64 / 0.8).round().to_string();
    let device = if o.peer {
        "cpu".to_string()
    } else {
        std::env::var("QUILL_DEVICE").unwrap_or_else(|_| "auto".into())
    };
    let quill_run = |cell: &str, batch: usize| -> Result<f64> {
        let _ = std::fs::remove_dir_all(&out);
        let b = batch.to_string();
        let mut c = env.command(&quill);
        c.args(["train", &corpus, "--out"])
            .arg(&out)
            .args([
                "--json",
                "--patience",
                "0",
                "--epochs",
                "1",
                "--max-vocab",
                "8000",
                "--cell",
                cell,
            ])
            .args(SHAPE)
            .args([
                "--batch",
                &b,
                "--max-tokens",
                &max_tokens,
                "--device",
                &device,
            ]);
        output(&mut c)
    };
    let script = workspace().join("xtask/peer/train_peer.py");
    let peer_run = |cell: &str, batch: usize| -> Result<f64> {
        let mut c = env.python();
        c.arg(&script)
            .args(["--vocab", "8000", "--cell", cell])
            .args(SHAPE)
            .args([
                "--batch",
                &batch.to_string(),
                "--tokens",
                &o.tokens.to_string(),
            ]);
        output(&mut c).context("the PyTorch peer needs python3 with torch (xtask's venv has it)")
    };
    let mut rows = Vec::new();
    for &batch in &o.batches {
        let n = o.cells.len();
        let (mut q, mut p) = (vec![Vec::new(); n], vec![Vec::new(); n]);
        for _ in 0..o.rounds {
            for (i, cell) in o.cells.iter().enumerate() {
                q[i].push(quill_run(cell, batch)?);
                if o.peer {
                    p[i].push(peer_run(cell, batch)?);
                }
            }
        }
        for (i, cell) in o.cells.iter().enumerate() {
            println!(
                "{{\"engine\":\"quill\",\"cell\":\"{cell}\",\"batch\":{batch},\"tokens_per_s\":{:?}}}",
                q[i]
            );
            if o.peer {
                println!(
                    "{{\"engine\":\"pytorch\",\"cell\":\"{cell}\",\"batch\":{batch},\"tokens_per_s\":{:?}}}",
                    p[i]
                );
            }
        }
        for (cell, (q, p)) in o.cells.iter().zip(q.into_iter().zip(p)) {
            rows.push((cell.clone(), batch, q, p));
        }
    }
    if o.peer || o.cells.len() > 1 {
        println!("\n| cell | batch ×35 | quill train tokens/s | PyTorch (Python) tokens/s | ratio quill / PyTorch (means) |");
        println!("|---|---|---|---|---|");
        for (cell, batch, q, p) in &rows {
            let (peer, ratio) = if p.is_empty() {
                ("—".to_string(), "—".to_string())
            } else {
                (range(p), format!("{:.2}", mean(q) / mean(p)))
            };
            println!("| {cell} | {batch} | {} | {peer} | {ratio} |", range(q));
        }
        println!(
            "\n({} alternating rounds of one epoch of {} training tokens each; V=8000, E=100, H=150, CPU)",
            o.rounds, o.tokens
        );
    }
    Ok(())
}
