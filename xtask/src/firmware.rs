//! `cargo xtask firmware`: build the firmware for a board around a model and run it under QEMU; and the board
//! checks of `cargo xtask test`: text byte-identical to the desktop on every board, the interactive prompt
//! answering over the serial port, the STM32F405's flash and RAM budget, a build-only Cortex-M0+ check.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::env::{self, cache, cargo, run, workspace, Env};

/// The STM32F405's budget: flash (code + constants + model) and static RAM + measured stack.
const FLASH: usize = 1024 * 1024;
const RAM: usize = 64 * 1024;

/// A board the firmware runs on under QEMU.
#[derive(Clone, Copy, Debug)]
struct Target {
    /// The board's name (`--board`), as the firmware reports it.
    board: &'static str,
    /// Rust target.
    triple: &'static str,
    /// QEMU binary and the Debian package that has it.
    qemu: (&'static str, &'static str),
    /// Instructions per counter tick under `-icount shift=0` (1 instruction = 1 ns): 1000 / the MHz QEMU
    /// clocks SysTick at, or 1 for RISC-V's `mcycle` (which counts instructions there).
    instructions_per_tick: f64,
    /// Whether the 1 MB / 64 KB budget of the STM32F405 applies.
    budget: bool,
}

const TARGETS: [Target; 3] = [
    Target {
        board: "stm32f405",
        triple: "thumbv7em-none-eabihf",
        qemu: ("qemu-system-arm", "qemu-system-arm"),
        instructions_per_tick: 1000.0 / 168.0,
        budget: true,
    },
    Target {
        board: "mps2-an505",
        triple: "thumbv8m.main-none-eabihf",
        qemu: ("qemu-system-arm", "qemu-system-arm"),
        instructions_per_tick: 1000.0 / 20.0,
        budget: false,
    },
    Target {
        board: "riscv32-virt",
        triple: "riscv32imac-unknown-none-elf",
        qemu: ("qemu-system-riscv32", "qemu-system-misc"),
        instructions_per_tick: 1.0,
        budget: false,
    },
];

/// Built, never run: the Cortex-M0+ (no DSP, no FPU).
const BUILD_ONLY: &str = "thumbv6m-none-eabi";

fn target(board: &str) -> Result<Target> {
    TARGETS
        .into_iter()
        .find(|t| t.board == board)
        .with_context(|| {
            let names: Vec<&str> = TARGETS.iter().map(|t| t.board).collect();
            format!("--board {board}: choose one of {}", names.join(", "))
        })
}

fn check_tools(t: &Target) -> Result<()> {
    env::apt_program(t.qemu.0, t.qemu.1)?;
    env::rustup_target(t.triple)
}

/// A board model: E=H=128, tied, trained on the default corpus.
#[derive(Clone, Copy, Debug)]
struct BoardModel {
    /// `lstm` or `gru`.
    cell: &'static str,
    /// `quill train --level`: `word` (the `default` profile) or `bpe` (the `text` profile).
    level: &'static str,
    /// Vocabulary size.
    vocab: usize,
    /// `quill export --weights`.
    weights: &'static str,
}

/// The models `cargo xtask test` runs on the STM32F405: both cells at int8, int4 with twice the vocabulary in
/// the same flash, and subword tokens (BPE, case kept, no `<unk>`).
const MODELS: [BoardModel; 4] = [
    BoardModel {
        cell: "lstm",
        level: "word",
        vocab: 4096,
        weights: "int8",
    },
    BoardModel {
        cell: "gru",
        level: "word",
        vocab: 4096,
        weights: "int8",
    },
    BoardModel {
        cell: "gru",
        level: "word",
        vocab: 8192,
        weights: "int4",
    },
    BoardModel {
        cell: "gru",
        level: "bpe",
        vocab: 4096,
        weights: "int8",
    },
];

/// What `cargo xtask firmware` runs unless told otherwise (and every board runs in `cargo xtask test`): the GRU,
/// which wins the measured comparison.
const DEFAULT_MODEL: BoardModel = BoardModel {
    cell: "gru",
    level: "word",
    vocab: 4096,
    weights: "int8",
};

impl BoardModel {
    fn name(&self) -> String {
        let level = if self.level == "word" { "" } else { " BPE" };
        format!("{} {}{level} V={}", self.cell, self.weights, self.vocab)
    }

    /// The cache folder: the LSTM int8 V=4096 model keeps the folder it always had.
    fn dir(&self, quick: bool) -> PathBuf {
        let base = if quick { "board-test" } else { "board" };
        let name = match (self.cell, self.weights, self.vocab, self.level) {
            ("lstm", "int8", 4096, "word") => base.to_string(),
            ("gru", "int8", 4096, "word") => format!("{base}-gru"),
            (cell, weights, vocab, "word") => format!("{base}-{cell}-{weights}-v{vocab}"),
            (cell, weights, vocab, level) => format!("{base}-{cell}-{weights}-v{vocab}-{level}"),
        };
        cache().join(name)
    }
}

/// The model file for `m` (trained and exported once, then cached).
fn board_model(env: &Env, quill: &Path, quick: bool, m: BoardModel) -> Result<PathBuf> {
    let dir = m.dir(quick);
    let model = dir.join("model.quill");
    if let Ok(bytes) = std::fs::read(&model) {
        match quill_core::Model::from_bytes(&bytes) {
            Ok(_) => return Ok(model),
            // A file an older build wrote (the retired int4 layout): the checkpoint is still there.
            Err(e) => eprintln!(
                "xtask: the cached {} no longer loads ({e}); exporting it again",
                model.display()
            ),
        }
    }
    let d = dir.to_string_lossy().to_string();
    if !dir.join("last.ckpt").exists() {
        train_board_model(env, quill, quick, m, &d)?;
    }
    run(env.command(quill).args([
        "export",
        &d,
        "-o",
        &model.to_string_lossy(),
        "--weights",
        m.weights,
        "--eval-tokens",
        "2000",
    ]))?;
    Ok(model)
}

/// Trains `m` into the folder `d` (the board models' settings: E = H = 128, tied).
fn train_board_model(env: &Env, quill: &Path, quick: bool, m: BoardModel, d: &str) -> Result<()> {
    let corpus = env::corpus()?.to_string_lossy().to_string();
    let (tokens, epochs) = if quick {
        ("100000", "1")
    } else {
        ("600000", "3")
    };
    let vocab = m.vocab.to_string();
    run(env.command(quill).args([
        "train",
        &corpus,
        "--out",
        d,
        "--cell",
        m.cell,
        "--level",
        m.level,
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
    Ok(())
}

fn firmware_dir() -> PathBuf {
    workspace().join("firmware-example")
}

/// Builds the firmware for `triple` around `model` with the `QUILL_*` `settings`; returns the ELF.
fn build(triple: &str, model: &Path, settings: &[(&str, &str)]) -> Result<PathBuf> {
    let mut c = cargo();
    c.current_dir(firmware_dir())
        .args(["build", "--release", "--quiet", "--target", triple])
        .env("QUILL_MODEL", model)
        .env_remove("RUSTFLAGS");
    for (k, v) in settings {
        c.env(k, v);
    }
    run(&mut c).with_context(|| format!("building the firmware for {triple}"))?;
    Ok(firmware_dir()
        .join("target")
        .join(triple)
        .join("release")
        .join("firmware-example"))
}

/// The QEMU command line of `triple`: the `runner` of `firmware-example/.cargo/config.toml` (one place says how
/// each board runs, for `cargo run` and for these checks).
fn runner(triple: &str) -> Result<Vec<String>> {
    let path = firmware_dir().join(".cargo/config.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let header = format!("[target.{triple}]");
    let section = text
        .split_once(&header)
        .map(|(_, rest)| rest.split("\n[").next().unwrap_or(""))
        .with_context(|| format!("{} has no {header}", path.display()))?;
    let line = section
        .lines()
        .find_map(|l| l.trim().strip_prefix("runner = "))
        .with_context(|| format!("{} has no runner for {triple}", path.display()))?;
    Ok(line
        .trim_matches('"')
        .split_whitespace()
        .map(String::from)
        .collect())
}

fn qemu(triple: &str, elf: &Path) -> Result<Command> {
    let args = runner(triple)?;
    let (program, rest) = args.split_first().context("an empty runner")?;
    let mut c = Command::new(program);
    c.args(rest).arg(elf);
    Ok(c)
}

/// Runs a `batch` build to its end; returns what it printed on the serial port (CR LF as LF).
fn run_batch(triple: &str, elf: &Path) -> Result<String> {
    let out = qemu(triple, elf)?
        .stdin(Stdio::null())
        .output()
        .context("running the firmware under QEMU")?;
    let stdout = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    if !out.status.success() {
        bail!(
            "firmware failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// How long a board may take to answer one line.
const ANSWER: Duration = Duration::from_secs(120);

/// Types `lines` at an `interactive` build, each after the board's `> ` prompt (bytes sent before the UART is
/// enabled are lost), waits for the prompt after the last, stops QEMU; returns the session (CR LF as LF).
fn run_interactive(triple: &str, elf: &Path, lines: &[&str]) -> Result<String> {
    let mut child = qemu(triple, elf)?
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting QEMU")?;
    let mut stdout = child.stdout.take().context("QEMU's stdout")?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut stdin = child.stdin.take().context("QEMU's stdin")?;
    let mut session = String::new();
    let mut result = Ok(());
    for k in 0..=lines.len() {
        // The (k + 1)-th prompt: at the start of a line, "> ".
        let deadline = Instant::now() + ANSWER;
        while session.matches("\n> ").count() < k + 1 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                // CR LF as LF (a CR split from its LF across two reads is dropped all the same).
                Ok(bytes) => session.push_str(&String::from_utf8_lossy(&bytes).replace('\r', "")),
                Err(_) => {
                    result = Err(anyhow::anyhow!(
                        "the board did not answer within {} s; session so far:\n{}",
                        ANSWER.as_secs(),
                        session
                    ));
                    break;
                }
            }
        }
        if result.is_err() {
            break;
        }
        if let Some(line) = lines.get(k) {
            if let Err(e) = stdin.write_all(format!("{line}\n").as_bytes()) {
                result = Err(e.into());
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    result.map(|()| session)
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

/// Instructions per token (median) from the report of a run on `t`.
fn instructions(t: &Target, out: &str) -> Option<f64> {
    report(out, "median").map(|m| m as f64 * t.instructions_per_tick)
}

fn print_report(t: &Target, out: &str) {
    for line in out.lines().filter(|l| l.starts_with("report")) {
        println!("{line}");
    }
    if let Some(i) = instructions(t, out) {
        println!(
            "instructions per token (median): {i:.0} (QEMU -icount shift=0){}",
            if t.budget {
                format!(
                    "; at 168 MHz and one instruction per cycle: {:.2} ms per token",
                    i / 168e3
                )
            } else {
                String::new()
            }
        );
    }
}

/// `cargo xtask firmware` flags.
fn value<'a>(args: &'a [String], flag: &str) -> Result<Option<&'a String>> {
    match args.iter().position(|a| a == flag) {
        Some(i) => Ok(Some(
            args.get(i + 1)
                .with_context(|| format!("{flag} needs a value"))?,
        )),
        None => Ok(None),
    }
}

/// `cargo xtask firmware [--board B] [--model PATH | --cell lstm|gru --level word|bpe --weights int8|int4 --vocab N]
/// [--sampled] [--interactive]`.
pub fn run_cli(args: &[String]) -> Result<()> {
    let t = target(value(args, "--board")?.map_or("stm32f405", |b| b.as_str()))?;
    check_tools(&t)?;
    let mut m = DEFAULT_MODEL;
    match value(args, "--cell")?.map(|c| c.as_str()) {
        None => {}
        Some("lstm") => m.cell = "lstm",
        Some("gru") => m.cell = "gru",
        Some(other) => bail!("--cell {other}: use lstm or gru"),
    }
    match value(args, "--level")?.map(|c| c.as_str()) {
        None => {}
        Some("word") => m.level = "word",
        Some("bpe") => m.level = "bpe",
        Some(other) => bail!("--level {other}: use word or bpe"),
    }
    match value(args, "--weights")?.map(|c| c.as_str()) {
        None => {}
        Some("int8") => m.weights = "int8",
        Some("int4") => m.weights = "int4",
        Some(other) => bail!("--weights {other}: use int8 or int4"),
    }
    if let Some(v) = value(args, "--vocab")? {
        m.vocab = v
            .parse()
            .ok()
            .filter(|&v| (2..=65536).contains(&v))
            .with_context(|| format!("--vocab {v}: give a vocabulary size such as 4096"))?;
    }
    let model = match value(args, "--model")? {
        Some(path) => PathBuf::from(path),
        None => {
            let env = Env::setup()?;
            let quill = env.build_quill()?;
            eprintln!("xtask: board model {}", m.name());
            board_model(&env, &quill, false, m)?
        }
    };
    if args.iter().any(|a| a == "--interactive") {
        let elf = build(t.triple, &model, &[("QUILL_MODE", "interactive")])?;
        eprintln!(
            "xtask: {} under QEMU; type a prompt or :help (Ctrl-C stops QEMU)",
            t.board
        );
        let status = qemu(t.triple, &elf)?.status()?;
        if !status.success() {
            bail!("QEMU ended with {status}");
        }
        return Ok(());
    }
    let sampled = args.iter().any(|a| a == "--sampled");
    let mut settings = vec![("QUILL_MODE", "batch")];
    if sampled {
        settings.extend_from_slice(SAMPLED);
    }
    let out = run_batch(t.triple, &build(t.triple, &model, &settings)?)?;
    println!("{}", board_text(&out)?);
    print_report(&t, &out);
    Ok(())
}

const SAMPLED: &[(&str, &str)] = &[
    ("QUILL_TEMPERATURE", "0.8"),
    ("QUILL_TOP_K", "40"),
    ("QUILL_REPETITION_PENALTY", "1.3"),
    ("QUILL_SEED", "7"),
];

/// `quill generate` with the board's prompt and `settings` given as flags; its text.
fn desktop(
    env: &Env,
    quill: &Path,
    model: &Path,
    words: &str,
    settings: &[(&str, &str)],
) -> Result<String> {
    let mut c = env.command(quill);
    c.args([
        "generate",
        &model.to_string_lossy(),
        "--prompt",
        "The state of the Union",
        "--words",
        words,
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
    let out = c.output()?;
    if !out.status.success() {
        bail!(
            "quill generate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// Every board check: each model of [`MODELS`] on the STM32F405 and the default model on every board, batch
/// greedy and sampled byte-identical to the desktop; the interactive prompt on every board; the Cortex-M0+ build;
/// the firmware's lints on every target.
pub fn test(env: &Env) -> Result<()> {
    for t in &TARGETS {
        check_tools(t)?;
    }
    env::rustup_target(BUILD_ONLY)?;
    let quill = env.build_quill()?;
    let default = board_model(env, &quill, true, DEFAULT_MODEL)?;
    // The firmware's own lints (every `unsafe` with its SAFETY line) on every target: it is outside the
    // workspace's clippy run.
    for triple in TARGETS.iter().map(|t| t.triple).chain([BUILD_ONLY]) {
        run(cargo()
            .current_dir(firmware_dir())
            .args([
                "clippy",
                "--release",
                "--target",
                triple,
                "--",
                "-D",
                "warnings",
            ])
            .env("QUILL_MODEL", &default)
            .env_remove("RUSTFLAGS"))?;
    }
    build(BUILD_ONLY, &default, &[("QUILL_MODE", "batch")])?;
    println!("firmware {BUILD_ONLY}: builds (Cortex-M0+, scalar kernels; not run)");
    let mut table = Vec::new();
    for t in &TARGETS {
        let models: Vec<BoardModel> = if t.budget {
            MODELS.to_vec()
        } else {
            vec![DEFAULT_MODEL]
        };
        for m in models {
            let model = board_model(env, &quill, true, m)?;
            table.push(board_matches_desktop(env, &quill, t, &model, &m.name())?);
        }
        interactive_session(env, &quill, t, &default)?;
    }
    println!(
        "\n| board | model | flash | static RAM + stack | instructions/token greedy | sampled |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for row in table {
        println!("{row}");
    }
    Ok(())
}

/// Batch greedy and sampled on `t` against `quill generate`; the budget on the STM32F405; returns a table row.
fn board_matches_desktop(
    env: &Env,
    quill: &Path,
    t: &Target,
    model: &Path,
    name: &str,
) -> Result<String> {
    let mut costs = Vec::new();
    let mut sizes = (0, 0);
    for (mode, extra) in [("greedy", &[][..]), ("sampled", SAMPLED)] {
        let what = format!("{} {name} {mode}", t.board);
        let mut settings = vec![("QUILL_MODE", "batch")];
        settings.extend_from_slice(extra);
        let out = run_batch(t.triple, &build(t.triple, model, &settings)?)?;
        let board = board_text(&out)?;
        let desk = desktop(env, quill, model, "40", extra)?;
        if board != desk {
            bail!("board and desktop differ ({what}):\nboard:   {board:?}\ndesktop: {desk:?}");
        }
        println!(
            "firmware {what}: board text == desktop text ({} bytes)",
            board.len()
        );
        let num = |k| report(&out, k).with_context(|| format!("report lacks {k}"));
        let flash = num("text")? + num("rodata")? + num("data")?;
        let ram = num("data")? + num("bss")? + num("stack_peak")?;
        if t.budget && (flash > FLASH || ram > RAM) {
            bail!("over the board budget: flash {flash} (≤ {FLASH}), static RAM + stack {ram} (≤ {RAM})");
        }
        println!("firmware {what}: flash {flash}, static RAM + stack {ram}");
        print_report(t, &out);
        costs.push(instructions(t, &out).unwrap_or(f64::NAN));
        sizes = (flash, ram);
    }
    Ok(format!(
        "| {} | {name} | {} | {} | {:.0} | {:.0} |",
        t.board,
        sizes.0,
        sizes.1,
        costs.first().copied().unwrap_or(f64::NAN),
        costs.get(1).copied().unwrap_or(f64::NAN)
    ))
}

/// A session at the board's prompt: sampler commands, a reply byte-identical to the desktop's, `:reset` giving
/// the same reply again, bad commands answered with one-line errors, and the board still answering after them.
fn interactive_session(env: &Env, quill: &Path, t: &Target, model: &Path) -> Result<()> {
    let elf = build(t.triple, model, &[("QUILL_MODE", "interactive")])?;
    let lines = [
        ":topk 40",
        ":temp 0.8",
        ":seed 7",
        ":words 24",
        "The state of the Union",
        ":reset",
        "The state of the Union",
        ":bogus",
        ":temp abc",
        ":topk 999",
        ":penalty 0.5",
        "The people",
        ":show",
    ];
    let session = run_interactive(t.triple, &elf, &lines)?;
    // What follows each typed line up to the next prompt.
    let reply = |line: &str| -> Result<&str> {
        let typed = format!("\n> {line}\n");
        let at = session
            .find(&typed)
            .with_context(|| format!("{}: the session lacks {line:?}:\n{session}", t.board))?
            + typed.len();
        let end = session[at..].find("\n> ").map_or(session.len(), |e| at + e);
        Ok(&session[at..end])
    };
    let desk = desktop(
        env,
        quill,
        model,
        "24",
        &[
            ("QUILL_TEMPERATURE", "0.8"),
            ("QUILL_TOP_K", "40"),
            ("QUILL_SEED", "7"),
        ],
    )?;
    // The desktop echoes the prompt normalized ("The state of the union"); the board's reply is what follows.
    let prompt = "The state of the Union";
    let continuation = desk
        .get(..prompt.len())
        .filter(|echo| echo.eq_ignore_ascii_case(prompt))
        .map(|_| &desk[prompt.len()..])
        .with_context(|| format!("the desktop did not echo the prompt: {desk:?}"))?;
    let first = reply("The state of the Union")?;
    let text = first.lines().next().unwrap_or("");
    if text != continuation {
        bail!(
            "{}: the interactive reply differs from the desktop:\nboard:   {text:?}\ndesktop: {continuation:?}",
            t.board
        );
    }
    let typed = "\n> The state of the Union\n";
    let after_reset = session
        .rfind(typed)
        .map(|at| &session[at + typed.len()..])
        .and_then(|s| s.lines().next())
        .unwrap_or("");
    if after_reset != text {
        bail!(
            "{}: after :reset the same prompt gave {after_reset:?}, not {text:?}",
            t.board
        );
    }
    for (line, want) in [
        (":bogus", "error: unknown command :bogus"),
        (":temp abc", "error: :temp takes a number"),
        (":topk 999", "error: :topk takes at most 64"),
        (":penalty 0.5", "error: :penalty takes a number >= 1"),
        (":show", "temp 0.8 topk 40 topp 1 penalty 1 seed 7 words 24"),
    ] {
        let got = reply(line)?;
        if !got.starts_with(want) {
            bail!("{}: {line:?} answered {got:?}, not {want:?}…", t.board);
        }
    }
    if reply("The people")?.trim().is_empty() {
        bail!("{}: no reply to a prompt after the errors", t.board);
    }
    println!(
        "firmware {} interactive: commands, errors and a reply == desktop ({} bytes) over the serial port",
        t.board,
        text.len()
    );
    Ok(())
}
