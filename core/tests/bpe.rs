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
        let mut entries = Vec::new();
        for (l, r) in picks {
            let id = 256 + entries.len() as u32;
            let pair = (l % id, r % id);
            if seen.insert(pair) {
                entries.push((pair.0, pair.1, id));
            }
        }
        entries.sort_unstable();
        let table: Vec<u8> = entries
            .iter()
            .flat_map(|&(l, r, m)| [l, r, m])
            .flat_map(u32::to_le_bytes)
            .collect();
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
