//! `cargo xtask firmware`: build the Cortex-M4 example around a model and run it under QEMU; and the board vs
//! desktop byte-identity and budget checks of `cargo xtask test`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::env::{self, cache, cargo, run, workspace, Env};

/// Board budget: flash (code + constants + model) and static RAM + measured stack.
const FLASH: usize = 1024 * 1024;
const RAM: usize = 64 * 1024;

fn check_tools() -> Result<()> {
    if Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .is_err()
    {
        bail!("qemu-system-arm is missing: install it with `apt-get install qemu-system-arm`");
    }
    env::rustup_target("thumbv7em-none-eabihf")?;
    Ok(())
}

/// A board model: word level, E=H=128, tied, trained on the default corpus.
#[derive(Clone, Copy, Debug)]
struct Board {
    /// `lstm` or `gru`.
    cell: &'static str,
    /// Vocabulary size.
    vocab: usize,
    /// `quill export --weights`.
    weights: &'static str,
}

/// The boards `cargo xtask test` runs: both cells at int8, and int4 with twice the vocabulary in the same flash.
const BOARDS: [Board; 3] = [
    Board {
        cell: "lstm",
        vocab: 4096,
        weights: "int8",
    },
    Board {
        cell: "gru",
        vocab: 4096,
        weights: "int8",
    },
    Board {
        cell: "gru",
        vocab: 8192,
        weights: "int4",
    },
];

/// What `cargo xtask firmware` runs unless told otherwise: the GRU, which wins the measured comparison.
const DEFAULT_BOARD: Board = Board {
    cell: "gru",
    vocab: 4096,
    weights: "int8",
};

impl Board {
    fn name(&self) -> String {
        format!("{} {} V={}", self.cell, self.weights, self.vocab)
    }

    /// The cache folder: the LSTM int8 V=4096 model keeps the folder it always had.
    fn dir(&self, quick: bool) -> PathBuf {
        let base = if quick { "board-test" } else { "board" };
        let name = match (self.cell, self.weights, self.vocab) {
            ("lstm", "int8", 4096) => base.to_string(),
            ("gru", "int8", 4096) => format!("{base}-gru"),
            (cell, weights, vocab) => format!("{base}-{cell}-{weights}-v{vocab}"),
        };
        cache().join(name)
    }
}

/// The model for `board` (trained and exported once, then cached).
fn board_model(env: &Env, quill: &Path, quick: bool, board: Board) -> Result<PathBuf> {
    let dir = board.dir(quick);
    let model = dir.join("model.quill");
    if model.exists() {
        return Ok(model);
    }
    let corpus = env::corpus()?.to_string_lossy().to_string();
    let d = dir.to_string_lossy().to_string();
    let (tokens, epochs) = if quick {
        ("100000", "1")
    } else {
        ("600000", "3")
    };
    let vocab = board.vocab.to_string();
    run(env.command(quill).args([
        "train",
        &corpus,
        "--out",
        &d,
        "--cell",
        board.cell,
        "--max-vocab",
        &vocab,
        "--embed",
        "128",
        "--hidden",
        "128",
        "--tie",
        "--max-tokens",
        tokens,
        "--epochs",
        epochs,
    ]))?;
    run(env.command(quill).args([
        "export",
        &d,
        "-o",
        &model.to_string_lossy(),
        "--weights",
        board.weights,
        "--eval-tokens",
        "2000",
    ]))?;
    Ok(model)
}

/// Builds and runs the firmware; returns its standard output.
fn run_board(model: &Path, settings: &[(&str, &str)]) -> Result<String> {
    let dir = workspace().join("firmware-example");
    let mut c = cargo();
    c.current_dir(&dir)
        .args(["run", "--release", "--quiet"])
        .env("QUILL_MODEL", model)
        .env_remove("RUSTFLAGS");
    for (k, v) in settings {
        c.env(k, v);
    }
    let out = c.output().context("running the firmware under QEMU")?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!(
            "firmware failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

fn board_text(out: &str) -> Result<&str> {
    let start = out
        .find("---TEXT---\n")
        .context("no ---TEXT--- marker in the firmware output")?
        + 11;
    let end = out[start..]
        .find("\n---END---")
        .context("no ---END--- marker")?
        + start;
    Ok(&out[start..end])
}

fn report(out: &str, key: &str) -> Option<usize> {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

/// SysTick of QEMU's netduinoplus2 runs at the 168 MHz system clock; under `-icount shift=0` each instruction
/// takes 1 ns of virtual time, so one tick is 1/0.168 ≈ 5.95 instructions.
const INSTRUCTIONS_PER_TICK: f64 = 1000.0 / 168.0;

fn print_report(out: &str) {
    for line in out.lines().filter(|l| l.starts_with("report")) {
        println!("{line}");
    }
    if let Some(med) = report(out, "median") {
        println!(
            "instructions per token (median): {:.0} (ticks × 1000/168; QEMU SysTick = 168 MHz core clock, -icount shift=0)",
            med as f64 * INSTRUCTIONS_PER_TICK
        );
    }
}

/// `cargo xtask firmware [--model PATH | --cell lstm|gru --weights int8|int4 --vocab N] [--sampled]`.
pub fn run_cli(args: &[String]) -> Result<()> {
    check_tools()?;
    let value = |flag: &str| -> Result<Option<&String>> {
        match args.iter().position(|a| a == flag) {
            Some(i) => Ok(Some(
                args.get(i + 1)
                    .with_context(|| format!("{flag} needs a value"))?,
            )),
            None => Ok(None),
        }
    };
    let mut board = DEFAULT_BOARD;
    match value("--cell")?.map(|c| c.as_str()) {
        None => {}
        Some("lstm") => board.cell = "lstm",
        Some("gru") => board.cell = "gru",
        Some(other) => bail!("--cell {other}: use lstm or gru"),
    }
    match value("--weights")?.map(|c| c.as_str()) {
        None => {}
        Some("int8") => board.weights = "int8",
        Some("int4") => board.weights = "int4",
        Some(other) => bail!("--weights {other}: use int8 or int4"),
    }
    if let Some(v) = value("--vocab")? {
        board.vocab = v
            .parse()
            .ok()
            .filter(|&v| (2..=65536).contains(&v))
            .with_context(|| format!("--vocab {v}: give a vocabulary size such as 4096"))?;
    }
    let model = match value("--model")? {
        Some(path) => PathBuf::from(path),
        None => {
            let env = Env::setup()?;
            let quill = env.build_quill()?;
            eprintln!("xtask: board model {}", board.name());
            board_model(&env, &quill, false, board)?
        }
    };
    let sampled = args.iter().any(|a| a == "--sampled");
    let settings: &[(&str, &str)] = if sampled { SAMPLED } else { &[] };
    let out = run_board(&model, settings)?;
    println!("{}", board_text(&out)?);
    print_report(&out);
    Ok(())
}

const SAMPLED: &[(&str, &str)] = &[
    ("QUILL_TEMPERATURE", "0.8"),
    ("QUILL_TOP_K", "40"),
    ("QUILL_REPETITION_PENALTY", "1.3"),
    ("QUILL_SEED", "7"),
];

/// Board vs desktop byte identity (greedy and sampled) and the board budget, for every model of [`BOARDS`].
pub fn test(env: &Env) -> Result<()> {
    check_tools()?;
    let quill = env.build_quill()?;
    for (i, board) in BOARDS.into_iter().enumerate() {
        let model = board_model(env, &quill, true, board)?;
        if i == 0 {
            // The firmware's own lints (every `unsafe` with its SAFETY line): it is outside the workspace's clippy
            // run.
            run(cargo()
                .current_dir(workspace().join("firmware-example"))
                .args(["clippy", "--release", "--", "-D", "warnings"])
                .env("QUILL_MODEL", &model)
                .env_remove("RUSTFLAGS"))?;
        }
        board_matches_desktop(env, &quill, &model, &board.name())?;
    }
    Ok(())
}

fn board_matches_desktop(env: &Env, quill: &Path, model: &Path, board: &str) -> Result<()> {
    for (name, settings) in [("greedy", &[][..]), ("sampled", SAMPLED)] {
        let name = format!("{board} {name}");
        let out = run_board(model, settings)?;
        let board = board_text(&out)?;
        let mut c = env.command(quill);
        c.args([
            "generate",
            &model.to_string_lossy(),
            "--prompt",
            "The state of the Union",
            "--words",
            "40",
        ]);
        for (k, v) in settings {
            let flag = format!(
                "--{}",
                k.trim_start_matches("QUILL_")
                    .to_lowercase()
                    .replace('_', "-")
            );
            c.args([flag.as_str(), v]);
        }
        let desk = c.output()?;
        let desktop = String::from_utf8_lossy(&desk.stdout);
        let desktop = desktop.strip_suffix('\n').unwrap_or(&desktop);
        if board != desktop {
            bail!("board and desktop differ ({name}):\nboard:   {board:?}\ndesktop: {desktop:?}");
        }
        println!(
            "firmware {name}: board text == desktop text ({} bytes)",
            board.len()
        );
        let num = |k| report(&out, k).with_context(|| format!("report lacks {k}"));
        let flash = num("text")? + num("rodata")? + num("data")?;
        let ram = num("data")? + num("bss")? + num("stack_peak")?;
        if flash > FLASH || ram > RAM {
            bail!("over the board budget: flash {flash} (≤ {FLASH}), static RAM + stack {ram} (≤ {RAM})");
        }
        println!("firmware {name}: flash {flash} ≤ {FLASH}, static RAM + stack {ram} ≤ {RAM}");
        print_report(&out);
    }
    Ok(())
}
