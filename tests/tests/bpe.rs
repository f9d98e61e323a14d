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

#[test]
fn a_bpe_vocabulary_encodes_counts_characters_and_survives_checkpoints_and_model_files() {
    use quill_core::{DType, Level, Model, Profile, Unknown};
    use quill_trainer::vocab::Vocabulary;
    let v = Vocabulary::build(TRAINING, Level::Bpe, Profile::Cased, 320, 1).unwrap();
    // Learning stops early when no pair occurs twice any more (this short text has 37 such merges).
    assert_eq!(v.len(), 256 + v.merges.len());
    assert!((280..=320).contains(&v.len()), "{}", v.len());
    let spec = v.spec();
    assert_eq!(
        (spec.unknown, spec.sentence_end, spec.capitalize),
        (Unknown::Skip, None, false)
    );
    let enc = v.encode(TRAINING);
    assert_eq!(enc.unknown, 0);
    // Every character is counted once, where its first byte is.
    assert_eq!(enc.char_count(), TRAINING.chars().count() as u64);
    let bytes: Vec<u8> = enc.ids.iter().flat_map(|&t| v.token_bytes(t)).collect();
    assert_eq!(bytes, TRAINING.as_bytes());
    // Sentence ends: tokens ending in `.`, `!` or `?`.
    let ends = enc.sentence_end.iter().filter(|&&e| e).count();
    assert!(ends >= 4, "{ends}");
    // A checkpoint stores the vocabulary as JSON: reindexed, it encodes alike.
    let json = serde_json::to_string(&v).unwrap();
    let back: Vocabulary = serde_json::from_str::<Vocabulary>(&json)
        .unwrap()
        .reindexed();
    assert_eq!(back.encode(TRAINING).ids, enc.ids);
    // A model file carries the merges: quill eval's vocabulary from it encodes alike too.
    let file = quill_core::testing::random_bpe(&v.merges, 8, DType::I8RowScaled, 1)
        .to_bytes()
        .unwrap();
    let model = Model::from_bytes(&file).unwrap();
    let from_model = Vocabulary::from_model(&model);
    assert_eq!(from_model.merges, v.merges);
    assert_eq!(from_model.encode(TRAINING).ids, enc.ids);
}

#[test]
fn word_and_char_tokens_count_the_characters_up_to_the_next_token() {
    use quill_core::{Level, Profile};
    use quill_trainer::vocab::Vocabulary;
    let text = "the people , the law . a rare word here";
    let word = Vocabulary::build(text, Level::Word, Profile::Default, 7, 1).unwrap();
    let enc = word.encode(text);
    // Every character is some token's (words beyond the vocabulary became <unk> and kept their characters).
    assert_eq!(enc.char_count(), text.chars().count() as u64);
    assert_eq!(enc.chars[0], 4, "\"the \"");
    let char = Vocabulary::build(text, Level::Char, Profile::Default, 100, 1).unwrap();
    assert_eq!(char.encode(text).char_count(), text.chars().count() as u64);
}
