//! The trainer's regex cleaning, quill-core's hand-written normalizer and Python's `re` (golden files) agree.

use proptest::prelude::*;
use quill_core::text::normalize;
use quill_core::Profile;
use quill_tests::regex_clean::clean;
use quill_trainer::corpus::{decode, Encoding};

fn core(profile: Profile, s: &str) -> String {
    let (mut a, mut b) = (String::new(), String::new());
    normalize(profile, s, &mut a, &mut b).unwrap().to_string()
}

/// Every `fixtures/seed-*.in.txt`: (its path without `.in.txt`, its text).
fn fixtures() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".in.txt") {
            out.push((stem.to_string(), std::fs::read_to_string(&path).unwrap()));
        }
    }
    out
}

#[test]
fn seed_profile_matches_python_golden_files() {
    let mut n = 0;
    for (name, input) in fixtures() {
        let want = std::fs::read_to_string(format!("{name}.out.txt")).unwrap();
        assert_eq!(clean(Profile::Seed, &input), want, "trainer, {name}");
        assert_eq!(core(Profile::Seed, &input), want, "core, {name}");
        n += 1;
    }
    assert!(n >= 6, "only {n} fixtures found");
}

fn text_strategy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a", "B", "Page", "Page 12", "page", "3", "-", "--", "-\n", "- \r\n ", "\n", "\n\n", " ",
        "\t", "\r", ".", ",", "!", "?", ";", ":", "'", "\"", "(", ")", "$", "%", "_", "é", "É",
        "ß", "½", "²", "—", "–", "‘", "’", "“", "”", "\u{a0}", "\u{1c}", "\u{1f}", "Σ", "İ", "ǅ",
        "x\u{301}", "日本", "🙂", "well", "known", "HomePage",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn trainer_and_core_normalizers_agree(s in text_strategy(), any_text in "\\PC{0,40}") {
        for profile in [Profile::Seed, Profile::Default, Profile::Cased, Profile::Text] {
            prop_assert_eq!(clean(profile, &s), core(profile, &s), "{:?} on {:?}", profile, s);
            prop_assert_eq!(clean(profile, &any_text), core(profile, &any_text), "{:?} on {:?}", profile, any_text);
        }
    }
}

#[test]
fn invalid_utf8_names_file_and_offset() {
    let err = decode(b"caf\xe9 ok".to_vec(), Encoding::Utf8, "novel.txt")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("novel.txt")
            && err.contains("byte offset 3")
            && err.contains("--encoding latin1"),
        "{err}"
    );
    assert_eq!(
        decode(b"caf\xe9".to_vec(), Encoding::Latin1, "x").unwrap(),
        "café"
    );
}

fn sentence_settings(profile: Profile, n: usize) -> quill_trainer::settings::TrainSettings {
    quill_trainer::settings::TrainSettings {
        corpus: Vec::new(),
        encoding: Encoding::Utf8,
        profile,
        level: quill_core::Level::Word,
        max_vocab: 100_000,
        min_count: 1,
        max_sentences: n,
        max_tokens: 0,
        context: quill_trainer::data::Context::Stream,
        seq_len: 4,
        batch: 2,
        epochs: 1,
        lr: 0.01,
        clip: 1.0,
        patience: 0,
        max_minutes: 0.0,
        seed: 0,
        val_split: 0.2,
        cell: Default::default(),
        embed: 8,
        hidden: 8,
        layers: 1,
        dropout: 0.0,
        tie: false,
        forcing: Default::default(),
        schedule: quill_trainer::settings::default_schedule(),
        professor: Default::default(),
    }
}

/// The tokens the trainer keeps for `raw` with these settings.
fn kept_tokens(s: &quill_trainer::settings::TrainSettings, raw: &str) -> Vec<String> {
    let (vocab, enc) = quill_trainer::dataset::encode_text(s, raw, None).unwrap();
    enc.ids
        .iter()
        .map(|&i| vocab.tokens[i as usize].clone())
        .collect()
}

#[test]
fn max_sentences_keeps_the_words_of_python_split_for_the_seed_profile() {
    let mut n = 0;
    for (name, input) in fixtures() {
        let want: Vec<String> =
            serde_json::from_str(&std::fs::read_to_string(format!("{name}.first3.json")).unwrap())
                .unwrap();
        if want.is_empty() {
            continue;
        }
        let words: Vec<String> = kept_tokens(&sentence_settings(Profile::Seed, 3), &input)
            .into_iter()
            .filter(|t| t != ".")
            .collect();
        assert_eq!(words, want, "{name}");
        n += 1;
    }
    assert!(n >= 5, "only {n} fixtures with words");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// For the default profile, `--max-sentences N` keeps a prefix of the tokens that holds exactly
    /// min(N, all) sentence ends and stops right after the N-th.
    #[test]
    fn max_sentences_keeps_exactly_n_sentences_for_the_default_profile(
        sentences in prop::collection::vec(("[A-Za-z ,']{0,30}", prop::sample::select(vec![".", "!", "?", "...", ". ."])), 0..12),
        tail in "[a-z ]{0,10}",
        n in 1usize..8,
    ) {
        // Two words first, so that even a text without sentences has a vocabulary.
        let raw: String = "alpha beta ".to_string()
            + &sentences.iter().map(|(s, e)| format!("{s}{e} ")).collect::<String>() + &tail;
        let all = kept_tokens(&sentence_settings(Profile::Default, 0), &raw);
        let kept = kept_tokens(&sentence_settings(Profile::Default, n), &raw);
        let is_end = |t: &String| matches!(t.as_str(), "." | "!" | "?");
        let total = all.iter().filter(|t| is_end(t)).count();
        prop_assert_eq!(kept.iter().filter(|t| is_end(t)).count(), n.min(total));
        prop_assert_eq!(&all[..kept.len()], &kept[..], "a prefix of the whole text");
        if n <= total {
            prop_assert!(kept.last().is_some_and(is_end), "stops right after the {}-th end: {:?}", n, kept);
        } else {
            prop_assert_eq!(kept.len(), all.len());
        }
    }
}
