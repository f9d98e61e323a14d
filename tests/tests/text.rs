//! The trainer's regex cleaning, quill-core's hand-written normalizer and Python's `re` (golden files) agree.

use proptest::prelude::*;
use quill_core::text::normalize;
use quill_core::Profile;
use quill_trainer::clean::clean;
use quill_trainer::corpus::{decode, Encoding};

fn core(profile: Profile, s: &str) -> String {
    let (mut a, mut b) = (String::new(), String::new());
    normalize(profile, s, &mut a, &mut b).unwrap().to_string()
}

#[test]
fn seed_profile_matches_python_golden_files() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.to_string_lossy().to_string();
        if !name.ends_with(".in.txt") {
            continue;
        }
        let input = std::fs::read_to_string(&path).unwrap();
        let want = std::fs::read_to_string(name.replace(".in.txt", ".out.txt")).unwrap();
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
        for profile in [Profile::Seed, Profile::Default] {
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
