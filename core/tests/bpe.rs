//! The BPE pieces of quill-core on any input: a merge table from arbitrary bytes is refused or usable, never a
//! panic; the encoder on any text stays within its buffer; the streaming decoder prints any UTF-8 text back
//! whole however its bytes are split into tokens.

use proptest::prelude::*;
use quill_core::text::bpe::{encode, Merges, Utf8Stream};

proptest! {
    #[test]
    fn arbitrary_tables_and_texts_never_panic(
        table in proptest::collection::vec(any::<u8>(), 0..400),
        vocab in 0u32..400,
        text in "\\PC{0,60}",
    ) {
        if let Ok(m) = Merges::new(&table, vocab) {
            let mut out = vec![0u32; text.len()];
            let n = encode(&text, &m, &mut out).unwrap();
            prop_assert!(n <= text.len());
            prop_assert!(out[..n].iter().all(|&t| t < vocab.max(256)));
        }
    }

    #[test]
    fn well_formed_random_tables_load_and_encode_within_the_vocabulary(
        picks in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..60),
        text in "\\PC{0,60}|[ab c]{0,60}",
    ) {
        // Merge i joins two tokens below 256 + i; pairs kept unique, then sorted as the format stores them.
        let mut seen = std::collections::HashSet::new();
        let mut merges = Vec::new();
        for (l, r) in picks {
            let id = 256 + merges.len() as u32;
            let pair = (l % id, r % id);
            if seen.insert(pair) {
                merges.push(pair);
            }
        }
        let table = quill_core::text::bpe::table_bytes(&merges);
        let entries: Vec<(u32, u32, u32)> = merges.iter().zip(256..).map(|(&(l, r), id)| (l, r, id)).collect();
        let vocab = 256 + entries.len() as u32;
        let m = Merges::new(&table, vocab).unwrap();
        let mut out = vec![0u32; text.len()];
        let n = encode(&text, &m, &mut out).unwrap();
        prop_assert!(n <= text.len());
        prop_assert!(out[..n].iter().all(|&t| t < vocab));
        for &(l, r, id) in &entries {
            prop_assert_eq!(m.find(l, r), Some(id));
        }
    }

    #[test]
    fn any_split_of_utf8_text_streams_back_whole(
        text in "\\PC{0,80}",
        cuts in proptest::collection::vec(0usize..400, 0..20),
    ) {
        let bytes = text.as_bytes();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut s = Utf8Stream::default();
        let mut out = String::new();
        let mut at = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            s.push(&bytes[at..c.max(at)], &mut out).unwrap();
            at = c.max(at);
        }
        s.finish(&mut out).unwrap();
        prop_assert_eq!(out, text);
    }

    #[test]
    fn arbitrary_bytes_stream_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut s = Utf8Stream::default();
        let mut out = String::new();
        s.push(&bytes, &mut out).unwrap();
        s.finish(&mut out).unwrap();
        // Valid input comes back as it was.
        if let Ok(t) = std::str::from_utf8(&bytes) {
            prop_assert_eq!(out, t);
        }
    }
}

/// Merges: "ab", "abc", " ab", " abc", "ü" (two bytes), "Zü", " a".
const MERGES: [(u32, u32); 7] = [
    (97, 98),     // 256 "ab"
    (256, 99),    // 257 "abc"
    (32, 256),    // 258 " ab"
    (258, 99),    // 259 " abc"
    (0xC3, 0xBC), // 260 "ü"
    (90, 260),    // 261 "Zü"
    (32, 97),     // 262 " a"
];

fn bpe_bytes() -> Vec<u8> {
    use quill_core::testing::random_bpe;
    random_bpe(&MERGES, 16, quill_core::DType::I8RowScaled, 3)
        .to_bytes()
        .unwrap()
}

#[test]
fn a_bpe_model_loads_with_byte_tokens_and_its_merges() {
    let bytes = bpe_bytes();
    let m = quill_core::Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.tokenizer().level, quill_core::Level::Bpe);
    let v = m.vocab();
    assert_eq!(v.len(), 263);
    assert_eq!(v.token_bytes(65), b"A");
    assert_eq!(v.token_bytes(0xC3), [0xC3]);
    assert_eq!(v.token(0xC3), "", "a lone lead byte is no string");
    assert_eq!(v.token(259), " abc");
    assert_eq!(v.token(261), "Zü");
    assert_eq!(v.lookup(" abc"), Some(259));
    assert_eq!(v.merges().len(), MERGES.len());
    assert_eq!(v.merges().find(258, 99), Some(259));
}

#[test]
fn priming_a_bpe_model_feeds_the_encoders_tokens_and_echoes_the_prompt() {
    use quill_core::{Generator, Model, SamplerConfig};
    let bytes = bpe_bytes();
    let m = Model::from_bytes(&bytes).unwrap();
    let prompt = "abc ab abcd Zürich"; // the text profile keeps it as it is
    let mut ids = [0u32; 64];
    let n = encode(prompt, m.vocab().merges(), &mut ids).unwrap();
    // "abc", " ab", then " abcd": "ab" (rank 0) before " ab" (2), "abc" (1) before " ab": " ", "abc", "d";
    // then " Zürich": "ü" (rank 4), "Zü" (5): " ", "Zü", "r", "i", "c", "h".
    assert_eq!(
        &ids[..n],
        &[257, 258, 32, 257, 100, 32, 261, 114, 105, 99, 104]
    );
    let mut primed: Generator<32, 1, 8> = Generator::new(&m, SamplerConfig::GREEDY, 5).unwrap();
    let mut echo = String::new();
    let p = primed
        .prime(prompt, &mut echo, |w| panic!("{w} is unknown"))
        .unwrap();
    assert_eq!((p.tokens, p.unknown), (n, 0));
    assert_eq!(echo, prompt);
    let mut fed: Generator<32, 1, 8> = Generator::new(&m, SamplerConfig::GREEDY, 5).unwrap();
    for &id in &ids[..n] {
        fed.feed(id);
    }
    assert_eq!(primed.state().hidden(0), fed.state().hidden(0));
    // What follows is printed from the tokens' bytes: the same text both ways.
    let (mut a, mut b) = (String::new(), String::new());
    primed.generate(40, &mut a).unwrap();
    for id in fed.by_ref().take(40).collect::<Vec<_>>() {
        fed.write_token(id, &mut b).unwrap();
    }
    assert_eq!(a, b);
}

#[test]
fn a_bpe_vocabulary_that_disagrees_with_its_merges_is_refused() {
    use quill_core::testing::with_header;
    use quill_core::{Error, Model};
    let bytes = bpe_bytes();
    // The vocabulary text holds the 256 bytes, then "ab", "abc", " ab", " abc", ...: spell "abc" as "abd".
    let payload = &bytes[16..];
    let at = payload
        .windows(5)
        .position(|w| w == b"ababc")
        .expect("the vocabulary text");
    let mut bad = payload.to_vec();
    bad[at + 4] = b'd';
    assert_eq!(
        Model::from_bytes(&with_header(&bad)).unwrap_err(),
        Error::BadVocabulary
    );
    // A byte token that is not its byte.
    let mut bad = payload.to_vec();
    bad[at - 1] = b'x'; // token 255
    assert!(Model::from_bytes(&with_header(&bad)).is_err());
    // A word-level model with merges, a BPE model with an unknown token: refused when written.
    let mut word = quill_core::testing::random_bpe(&MERGES, 16, quill_core::DType::I8RowScaled, 3);
    word.tokenizer.unknown = quill_core::Unknown::Map(0);
    assert_eq!(word.to_bytes().unwrap_err(), Error::BadVocabulary);
    word.tokenizer.unknown = quill_core::Unknown::Skip;
    word.tokenizer.level = quill_core::Level::Word;
    assert_eq!(word.to_bytes().unwrap_err(), Error::BadVocabulary);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn a_bpe_model_echoes_any_prompt_and_never_panics(text in "\\PC{0,40}|[ab cZü]{0,40}") {
        use quill_core::{Generator, Model, SamplerConfig};
        let bytes = bpe_bytes();
        let m = Model::from_bytes(&bytes).unwrap();
        let mut g: Generator<32, 1, 8> = Generator::new(&m, SamplerConfig::GREEDY, 1).unwrap();
        let mut echo = String::new();
        let p = g.prime(&text, &mut echo, |_| {}).unwrap();
        prop_assert_eq!(p.unknown, 0);
        // The echo is the normalized prompt (the text profile), every character of it.
        let mut norm = quill_core::text::NormBuf::<1024>::new();
        prop_assert_eq!(echo, norm.normalize(quill_core::Profile::Text, &text).unwrap());
        quill_core::testing::exercise(&bytes);
    }
}

#[test]
fn every_corrupted_byte_of_a_bpe_model_is_refused_or_harmless() {
    use quill_core::testing::{exercise, with_header};
    let bytes = bpe_bytes();
    let payload = &bytes[16..];
    // Every byte up to the end of the merge table (tokenizer and vocabulary), then a sample of the weights.
    let table = quill_core::text::bpe::table_bytes(&MERGES);
    let table_end = payload
        .windows(table.len())
        .position(|w| w == table)
        .expect("the merge table is in the payload")
        + table.len();
    let sampled = (table_end..payload.len()).step_by(61);
    for at in (0..table_end.min(payload.len())).chain(sampled) {
        let mut bad = payload.to_vec();
        bad[at] ^= 0x5A;
        // Past the checksum, into the decoder and the vocabulary checks; whatever loads must generate.
        exercise(&with_header(&bad));
    }
}
