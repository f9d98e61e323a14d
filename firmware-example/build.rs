//! Picks the board from the target (`quill_board` cfg and its `memory.x`), embeds the model and the generation
//! settings, all given through environment variables:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `QUILL_MODEL` | model file from `quill export` (required) | — |
//! | `QUILL_MODE` | `interactive` (prompts on the serial port) or `batch` (the prompt below once, a report, stop) | `interactive` |
//! | `QUILL_PROMPT` | prompt of `batch` mode | `The state of the Union` |
//! | `QUILL_WORDS` | tokens per reply (≤ 256 in `batch`) | `40` |
//! | `QUILL_TEMPERATURE`, `QUILL_TOP_K`, `QUILL_TOP_P`, `QUILL_REPETITION_PENALTY`, `QUILL_PENALTY_WINDOW`, `QUILL_SEED` | sampler, as `quill generate` | greedy |

use std::env;
use std::fs;
use std::path::PathBuf;

/// Longest built-in prompt, bytes.
const PROMPT_BYTES: usize = 256;

fn var(name: &str, default: &str) -> String {
    println!("cargo:rerun-if-env-changed={name}");
    env::var(name).unwrap_or_else(|_| default.to_string())
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}

fn number<T: std::str::FromStr>(name: &str, default: &str) -> T {
    let v = var(name, default);
    v.parse().unwrap_or_else(|_| {
        fail(&format!(
            "{name}={v:?} is not a number of the kind it takes"
        ))
    })
}

/// The board of a target: its `cfg(quill_board)`, memory layout, and the flash left for the model.
fn board(target: &str) -> (&'static str, &'static str, u64) {
    if target.starts_with("thumbv7em") || target.starts_with("thumbv6m") {
        // STM32F405: 1 MB of flash less 96 KB for code and constants. (thumbv6m: a build-only check of the whole
        // firmware for a core without DSP or FPU, over the same register layer.)
        ("stm32f405", "memory/stm32f405.x", 1024 * 1024 - 96 * 1024)
    } else if target.starts_with("thumbv8m.main") {
        ("an505", "memory/an505.x", 4 * 1024 * 1024 - 128 * 1024)
    } else if target.starts_with("riscv32") {
        (
            "riscv_virt",
            "memory/riscv-virt.x",
            16 * 1024 * 1024 - 256 * 1024,
        )
    } else {
        fail(&format!(
            "no board for target {target}: build for thumbv7em-none-eabihf (STM32F405), \
             thumbv8m.main-none-eabihf (MPS2 AN505) or riscv32imac-unknown-none-elf (QEMU virt)"
        ))
    }
}

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let (name, memory, max_model) = board(&target);
    println!(
        "cargo::rustc-check-cfg=cfg(quill_board, values(\"stm32f405\", \"an505\", \"riscv_virt\"))"
    );
    println!("cargo:rustc-cfg=quill_board=\"{name}\"");
    fs::copy(memory, out.join("memory.x")).expect("the memory layouts are in memory/");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory");

    let model = var("QUILL_MODEL", "");
    if model.is_empty() {
        fail("set QUILL_MODEL to a model file from `quill export` (or run `cargo xtask firmware`)");
    }
    println!("cargo:rerun-if-changed={model}");
    let len = fs::metadata(&model)
        .map(|m| m.len())
        .unwrap_or_else(|e| fail(&format!("QUILL_MODEL={model}: {e}")));
    if len > max_model {
        fail(&format!(
            "QUILL_MODEL={model} is {len} bytes; this board leaves {max_model} for the model. \
             Train a smaller one (e.g. --max-vocab 4096 --embed 128 --hidden 128 --tie) or export --weights int4"
        ));
    }
    fs::copy(&model, out.join("model.quill")).expect("copy the model into OUT_DIR");

    let interactive = match var("QUILL_MODE", "interactive").as_str() {
        "interactive" => true,
        "batch" => false,
        other => fail(&format!("QUILL_MODE={other}: use interactive or batch")),
    };
    let prompt = var("QUILL_PROMPT", "The state of the Union");
    if prompt.len() > PROMPT_BYTES {
        fail(&format!(
            "QUILL_PROMPT is {} bytes; at most {PROMPT_BYTES}",
            prompt.len()
        ));
    }
    let words: usize = number("QUILL_WORDS", "40");
    if words == 0 || words > 4096 || (!interactive && words > 256) {
        fail(&format!(
            "QUILL_WORDS={words}: 1..=256 in batch mode, 1..=4096 interactive"
        ));
    }
    let settings = format!(
        "pub const INTERACTIVE: bool = {interactive};\n\
         pub const PROMPT: &str = {prompt:?};\n\
         /// The normalized prompt's echo fits in twice the prompt's bytes (normalizing adds spaces).\n\
         pub const PROMPT_CAPACITY: usize = {};\n\
         pub const WORDS: usize = {words};\n\
         pub const CONFIG: quill_core::SamplerConfig = quill_core::SamplerConfig {{ temperature: {:?}, top_k: {}, top_p: {:?}, repetition_penalty: {:?}, penalty_window: {} }};\n\
         pub const SEED: u64 = {};\n",
        2 * PROMPT_BYTES,
        number::<f32>("QUILL_TEMPERATURE", "0"),
        number::<u32>("QUILL_TOP_K", "0"),
        number::<f32>("QUILL_TOP_P", "1"),
        number::<f32>("QUILL_REPETITION_PENALTY", "1"),
        number::<u16>("QUILL_PENALTY_WINDOW", "32"),
        number::<u64>("QUILL_SEED", "0"),
    );
    fs::write(out.join("settings.rs"), settings).expect("write settings.rs");
}
