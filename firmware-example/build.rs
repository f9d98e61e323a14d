//! Embeds the model and the generation settings, all given through environment variables:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `QUILL_MODEL` | model file from `quill export` (required) | — |
//! | `QUILL_PROMPT` | prompt | `The state of the Union` |
//! | `QUILL_WORDS` | tokens to generate (≤ 256) | `40` |
//! | `QUILL_TEMPERATURE`, `QUILL_TOP_K`, `QUILL_TOP_P`, `QUILL_REPETITION_PENALTY`, `QUILL_PENALTY_WINDOW`, `QUILL_SEED` | sampler, as `quill generate` | greedy |

use std::env;
use std::fs;
use std::path::PathBuf;

/// Flash left for the model after code (1 MB minus 96 KB for code and constants).
const MAX_MODEL: u64 = 1024 * 1024 - 96 * 1024;

fn var(name: &str, default: &str) -> String {
    println!("cargo:rerun-if-env-changed={name}");
    env::var(name).unwrap_or_else(|_| default.to_string())
}

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("memory.x is next to build.rs");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");

    let model = var("QUILL_MODEL", "");
    if model.is_empty() {
        eprintln!("error: set QUILL_MODEL to a model file from `quill export` (or run `cargo xtask firmware`)");
        std::process::exit(1);
    }
    println!("cargo:rerun-if-changed={model}");
    let len = fs::metadata(&model).map(|m| m.len()).unwrap_or_else(|e| {
        eprintln!("error: QUILL_MODEL={model}: {e}");
        std::process::exit(1);
    });
    if len > MAX_MODEL {
        eprintln!(
            "error: QUILL_MODEL={model} is {len} bytes; the board's 1 MB flash leaves {MAX_MODEL} for the model. \
             Train a smaller one (e.g. --max-vocab 4096 --embed 128 --hidden 128 --tie)"
        );
        std::process::exit(1);
    }
    fs::copy(&model, out.join("model.quill")).expect("copy the model into OUT_DIR");

    let prompt = var("QUILL_PROMPT", "The state of the Union");
    let settings = format!(
        "pub const PROMPT: &str = {prompt:?};\n\
         pub const WORDS: usize = {};\n\
         pub const CONFIG: quill_core::SamplerConfig = quill_core::SamplerConfig {{ temperature: {:?}, top_k: {}, top_p: {:?}, repetition_penalty: {:?}, penalty_window: {} }};\n\
         pub const SEED: u64 = {};\n",
        var("QUILL_WORDS", "40").parse::<usize>().expect("QUILL_WORDS is a number").min(256),
        var("QUILL_TEMPERATURE", "0").parse::<f32>().expect("QUILL_TEMPERATURE is a number"),
        var("QUILL_TOP_K", "0").parse::<u32>().expect("QUILL_TOP_K is a number"),
        var("QUILL_TOP_P", "1").parse::<f32>().expect("QUILL_TOP_P is a number"),
        var("QUILL_REPETITION_PENALTY", "1").parse::<f32>().expect("QUILL_REPETITION_PENALTY is a number"),
        var("QUILL_PENALTY_WINDOW", "32").parse::<u16>().expect("QUILL_PENALTY_WINDOW is a number"),
        var("QUILL_SEED", "0").parse::<u64>().expect("QUILL_SEED is a number"),
    );
    fs::write(out.join("settings.rs"), settings).expect("write settings.rs");
}
