//! Byte-pair encoding, trainer against core: the no-alloc encoder of quill-core (binary search over the stored
//! merge table) gives the trainer's tokens on any text, and its streaming decoder prints the text back token by
//! token without a replacement character at a token boundary.

use proptest::prelude::*;
use quill_core::text::bpe::{encode, Merges, Utf8Stream};
use quill_trainer::bpe::Bpe;

const TRAINING: &str =
    "The state of the Union is strong. Our nation, our people — and the Congress — \
    shall keep faith! L'État, c'est nous? 中文的文本 中文 😀😀 naïve café, naïve café.\n\tThe end.";

fn core_tokens(bpe: &Bpe, text: &str) -> Vec<u32> {
    let table = bpe.merge_table();
    let merges = Merges::new(&table, bpe.len() as u32).expect("the trainer's table loads");
    let mut out = vec![0u32; text.len()];
    let n = encode(text, &merges, &mut out).expect("one slot per byte suffices");
    out.truncate(n);
    out
}

fn streamed(bpe: &Bpe, tokens: &[u32]) -> String {
    let mut s = Utf8Stream::default();
    let mut out = String::new();
    for &t in tokens {
        s.push(&bpe.token_bytes(t), &mut out).unwrap();
    }
    s.finish(&mut out).unwrap();
    out
}

#[test]
fn the_training_text_encodes_alike_and_multi_byte_characters_merge() {
    let bpe = Bpe::learn(TRAINING, 400);
    let tokens = bpe.encode(TRAINING);
    assert_eq!(core_tokens(&bpe, TRAINING), tokens);
    assert_eq!(streamed(&bpe, &tokens), TRAINING);
    // "中文" occurs twice (in two chunks): its six bytes end up in fewer tokens than bytes.
    assert!(bpe.encode("中文").len() < 6);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn core_encodes_any_text_as_the_trainer_does(
        text in "\\PC{0,80}|[a-zA-Z ,.!?'\u{e9}\u{4e2d}\u{6587}\u{1f600}\\n\\t\u{0}-\u{1f}]{0,120}",
        own in any::<bool>(),
    ) {
        // Merges from the fixed text, or from this text itself (then its chunks are the learner's own).
        let bpe = if own { Bpe::learn(&text, 300) } else { Bpe::learn(TRAINING, 400) };
        let tokens = bpe.encode(&text);
        prop_assert_eq!(core_tokens(&bpe, &text), tokens.clone());
        prop_assert_eq!(streamed(&bpe, &tokens), text);
    }
}
