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
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let ok =
        targets.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("thumbv7em-none-eabihf"));
    if !ok {
        eprintln!("xtask: adding the Rust target thumbv7em-none-eabihf");
        run(Command::new("rustup").args(["target", "add", "thumbv7em-none-eabihf"]))
            .context("install it with `rustup target add thumbv7em-none-eabihf`")?;
    }
    Ok(())
}

/// The board-sized model (V=4096, E=H=128, tied, `cell` = `lstm` or `gru`) trained on the default corpus,
/// cached.
fn board_model(env: &Env, quill: &Path, quick: bool, cell: &str) -> Result<PathBuf> {
    let name = if quick { "board-test" } else { "board" };
    let dir = cache().join(if cell == "lstm" {
        name.to_string()
    } else {
        format!("{name}-{cell}")
    });
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
    run(env.command(quill).args([
        "train",
        &corpus,
        "--out",
        &d,
        "--cell",
        cell,
        "--max-vocab",
        "4096",
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

/// `cargo xtask firmware [--model PATH | --cell lstm|gru] [--sampled]`.
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
    let cell = value("--cell")?.map_or("lstm", |c| c.as_str());
    if !CELLS.contains(&cell) {
        bail!("--cell {cell}: use lstm or gru");
    }
    let model = match value("--model")? {
        Some(path) => PathBuf::from(path),
        None => {
            let env = Env::setup()?;
            let quill = env.build_quill()?;
            board_model(&env, &quill, false, cell)?
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

/// The recurrent cells the board runs.
const CELLS: [&str; 2] = ["lstm", "gru"];

/// Board vs desktop byte identity (greedy and sampled) and the board budget, for an LSTM and a GRU board model.
pub fn test(env: &Env) -> Result<()> {
    check_tools()?;
    let quill = env.build_quill()?;
    for (i, cell) in CELLS.into_iter().enumerate() {
        let model = board_model(env, &quill, true, cell)?;
        if i == 0 {
            // The firmware's own lints (every `unsafe` with its SAFETY line): it is outside the workspace's clippy
            // run.
            run(cargo()
                .current_dir(workspace().join("firmware-example"))
                .args(["clippy", "--release", "--", "-D", "warnings"])
                .env("QUILL_MODEL", &model)
                .env_remove("RUSTFLAGS"))?;
        }
        board_matches_desktop(env, &quill, &model, cell)?;
    }
    Ok(())
}

fn board_matches_desktop(env: &Env, quill: &Path, model: &Path, cell: &str) -> Result<()> {
    for (name, settings) in [("greedy", &[][..]), ("sampled", SAMPLED)] {
        let name = format!("{cell} {name}");
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
