//! `cargo xtask bench-token [--rounds R]`: µs per generated token of the seed-sized model (V=11,548, E=100,
//! H=150, random weights, one thread), quill-core int8 and int4 on every kernel this CPU has (the `token_min`
//! example: fastest of 2,000 rounds of 10 tokens), side by side with PyTorch dynamic int8 and f32
//! (`xtask/peer/token_peer.py`), LSTM and GRU, greedy / top-k 40 at T 0.8 / temperature 0.8. The engines run
//! alternately `R` times (default 2) so they share the machine; the table gives each row's range.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::env::{cargo, json_field, stdout_of as output, workspace, Env};

const SAMPLERS: [&str; 3] = ["greedy", "top-k 40", "temperature 0.8"];

/// Row key (cell, engine) → sampler → µs per token, one value per round.
type Rows = BTreeMap<(String, String), BTreeMap<String, Vec<f64>>>;

/// `lstm seed V=11548 E=100 H=150    int8 Avx512Vnni greedy    41.5 µs/token` → rows.
fn parse_core(text: &str, rows: &mut Rows) {
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 9 || w.last() != Some(&"µs/token") || w.get(1) != Some(&"seed") {
            continue;
        }
        let Ok(us) = w[w.len() - 2].parse::<f64>() else {
            continue;
        };
        let (cell, weights, kernel) = (w[0], w[5], w[6]);
        let sampler = w[7..w.len() - 2].join(" ");
        rows.entry((cell.into(), format!("quill-core {weights} {kernel}")))
            .or_default()
            .entry(sampler)
            .or_default()
            .push(us);
    }
}

/// The peer's JSON lines → rows.
fn parse_peer(text: &str, rows: &mut Rows) -> Result<()> {
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let field = |k: &str| json_field(line, k).with_context(|| format!("no {k} in {line}"));
        let us: f64 = field("us_per_token")?
            .parse()
            .context("us_per_token is not a number")?;
        rows.entry((field("cell")?.to_string(), field("engine")?.to_string()))
            .or_default()
            .entry(field("sampler")?.to_string())
            .or_default()
            .push(us);
    }
    Ok(())
}

fn range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.len() > 1 {
        format!("{lo:.1}–{hi:.1}")
    } else {
        format!("{lo:.1}")
    }
}

/// Runs the job.
pub fn run_cli(args: &[String]) -> Result<()> {
    let rounds = match args {
        [] => 2,
        [flag, n] if flag == "--rounds" => n.parse().context("--rounds takes a number")?,
        _ => bail!("bench-token takes --rounds R"),
    };
    let env = Env::setup()?;
    crate::env::run(cargo().args([
        "build",
        "--release",
        "-p",
        "quill-core",
        "--features",
        "std",
        "--example",
        "token_min",
    ]))?;
    let token_min = workspace().join("target/release/examples/token_min");
    let script = workspace().join("xtask/peer/token_peer.py");
    let mut rows = Rows::new();
    for _ in 0..rounds {
        parse_core(&output(Command::new(&token_min).arg("seed"))?, &mut rows);
        for cell in ["lstm", "gru"] {
            for weights in ["int8", "f32"] {
                let text =
                    output(
                        env.python()
                            .arg(&script)
                            .args(["--cell", cell, "--weights", weights]),
                    )
                    .context("the PyTorch peer needs python3 with torch (xtask's venv has it)")?;
                parse_peer(&text, &mut rows)?;
            }
        }
    }
    println!("\n| cell | engine | greedy | top-k 40, T 0.8 | temperature 0.8 |");
    println!("|---|---|---|---|---|");
    for ((cell, engine), by) in &rows {
        let cols: Vec<String> = SAMPLERS
            .iter()
            .map(|s| by.get(*s).map_or("—".into(), |v| range(v)))
            .collect();
        println!("| {cell} | {engine} | {} |", cols.join(" | "));
    }
    println!(
        "\n(µs per token, fastest of many rounds, {rounds} alternating runs; seed-sized model V=11,548 E=100 H=150, one thread)"
    );
    Ok(())
}
