//! Byte-pair encoding: learning merges from text (`quill train --level bpe`) and encoding with them.
//!
//! The base vocabulary is the 256 bytes, so every UTF-8 text is representable (no `<unk>`); merge `r` creates
//! token `256 + r` from a pair of earlier tokens, and a lower id merges first. Text is first cut into chunks by
//! quill-core's [`chunks`] (the one definition the board's encoder uses too: a whitespace character starts a
//! chunk, a single space joins the chunk after it, a switch between alphanumeric and other characters starts one;
//! `"Hello, world!"` → `"Hello"`, `","`, `" world"`, `"!"`), and merges never cross a chunk boundary, so the
//! learner works on the distinct chunks with their counts (a few tens of thousands for a 13 MB corpus) and a
//! no-alloc encoder can work one chunk at a time.
//!
//! Learning keeps pair counts, the chunks each pair occurs in, and a max-heap of pairs (stale entries skipped
//! when popped): each merge rewrites only the chunks holding its pair. Ties go to the smaller `(left, right)`,
//! so the merges are a function of the text alone.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

pub use quill_core::text::bpe::{chunks, BYTES};

/// A learned byte-pair encoding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bpe {
    /// Merge `r`: the pair of tokens that becomes token `256 + r`.
    pub merges: Vec<(u32, u32)>,
    /// The merge id of each pair (its rank is `id - 256`).
    rank: HashMap<(u32, u32), u32>,
}

impl Bpe {
    /// A tokenizer from its merges (as stored).
    pub fn from_merges(merges: Vec<(u32, u32)>) -> Self {
        let rank = merges
            .iter()
            .enumerate()
            .map(|(r, &p)| (p, BYTES + r as u32))
            .collect();
        Self { merges, rank }
    }

    /// Tokens in the vocabulary: the bytes and one per merge.
    pub fn len(&self) -> usize {
        BYTES as usize + self.merges.len()
    }

    /// Whether there are no merges (bytes only).
    pub fn is_empty(&self) -> bool {
        self.merges.is_empty()
    }

    /// Learns up to `vocab - 256` merges from `text` (fewer when no pair occurs twice any more).
    pub fn learn(text: &str, vocab: usize) -> Self {
        Self::learn_chunks(text, vocab).0
    }

    /// [`Bpe::learn`], and each distinct chunk of `text` with the tokens learning left it as.
    fn learn_chunks(text: &str, vocab: usize) -> (Self, Vec<(&str, Vec<u32>)>) {
        let mut counts: HashMap<&str, i64> = HashMap::new();
        chunks(text, |c| *counts.entry(c).or_default() += 1);
        let mut distinct: Vec<(&str, i64)> = counts.into_iter().collect();
        distinct.sort_unstable();
        let mut words: Vec<(Vec<u32>, i64)> = distinct
            .iter()
            .map(|&(c, n)| (c.bytes().map(u32::from).collect(), n))
            .collect();
        let mut pairs: HashMap<(u32, u32), i64> = HashMap::new();
        let mut holders: HashMap<(u32, u32), HashSet<usize>> = HashMap::new();
        for (w, (seq, n)) in words.iter().enumerate() {
            for p in seq.windows(2) {
                *pairs.entry((p[0], p[1])).or_default() += n;
                holders.entry((p[0], p[1])).or_default().insert(w);
            }
        }
        let mut heap: BinaryHeap<(i64, Reverse<(u32, u32)>)> =
            pairs.iter().map(|(&p, &n)| (n, Reverse(p))).collect();
        let mut merges = Vec::new();
        while BYTES as usize + merges.len() < vocab {
            let Some((n, Reverse(pair))) = heap.pop() else {
                break;
            };
            if pairs.get(&pair).copied().unwrap_or(0) != n {
                continue; // stale: the count changed since this entry was pushed
            }
            if n < 2 {
                break;
            }
            let id = BYTES + merges.len() as u32;
            merges.push(pair);
            let mut touched: HashSet<(u32, u32)> = HashSet::new();
            let mut holding: Vec<usize> = holders
                .remove(&pair)
                .unwrap_or_default()
                .into_iter()
                .collect();
            holding.sort_unstable();
            for w in holding {
                let (seq, count) = &mut words[w];
                let old = std::mem::take(seq);
                for p in old.windows(2) {
                    let e = pairs.entry((p[0], p[1])).or_default();
                    *e -= *count;
                    touched.insert((p[0], p[1]));
                }
                *seq = merge_pair(&old, pair, id);
                for p in seq.windows(2) {
                    *pairs.entry((p[0], p[1])).or_default() += *count;
                    holders.entry((p[0], p[1])).or_default().insert(w);
                    touched.insert((p[0], p[1]));
                }
            }
            pairs.remove(&pair);
            for p in touched {
                match pairs.get(&p) {
                    Some(&c) if c > 0 => heap.push((c, Reverse(p))),
                    _ => {
                        pairs.remove(&p);
                    }
                }
            }
        }
        let segmented = distinct
            .iter()
            .zip(words)
            .map(|(&(c, _), (seq, _))| (c, seq))
            .collect();
        (Self::from_merges(merges), segmented)
    }

    /// Encodes one chunk: its bytes, then, while any adjacent pair has a merge, the lowest-ranked such pair
    /// merged at each of its places, left to right.
    fn encode_chunk(&self, chunk: &str, out: &mut Vec<u32>) {
        let mut seq: Vec<u32> = chunk.bytes().map(u32::from).collect();
        while let Some((id, pair)) = seq
            .windows(2)
            .filter_map(|p| self.rank.get(&(p[0], p[1])).map(|&id| (id, (p[0], p[1]))))
            .min()
        {
            seq = merge_pair(&seq, pair, id);
        }
        out.extend_from_slice(&seq);
    }

    /// The tokens of `text`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        chunks(text, |c| self.encode_chunk(c, &mut out));
        out
    }

    /// The bytes token `id` stands for (empty for an id out of range).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let mut out = Vec::new();
        self.push_bytes(id, &mut out);
        out
    }

    fn push_bytes(&self, id: u32, out: &mut Vec<u8>) {
        if id < BYTES {
            out.push(id as u8);
        } else if let Some(&(a, b)) = self.merges.get((id - BYTES) as usize) {
            self.push_bytes(a, out);
            self.push_bytes(b, out);
        }
    }

    /// The merge table as `core/FORMAT.md` stores it and `quill_core::text::bpe::Merges` reads it: per merge
    /// `(left, right, merged)` as three little-endian u32, sorted by `(left, right)`.
    pub fn merge_table(&self) -> Vec<u8> {
        quill_core::text::bpe::table_bytes(&self.merges)
    }

    /// The bytes of `tokens`, concatenated.
    pub fn decode(&self, tokens: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        for &t in tokens {
            self.push_bytes(t, &mut out);
        }
        out
    }
}

/// `seq` with every occurrence of `pair`, left to right and not overlapping, replaced by `id`.
fn merge_pair(seq: &[u32], pair: (u32, u32), id: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(seq.len());
    let mut i = 0;
    while i < seq.len() {
        if i + 1 < seq.len() && (seq[i], seq[i + 1]) == pair {
            out.push(id);
            i += 2;
        } else {
            out.push(seq[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_most_frequent_pair_merges_first_and_ties_go_to_the_smaller_pair() {
        // Chunks "ab", " ab" ×2, " bc" ×2, " cd" ×2: (a, b) occurs 3 times; then every pair twice, and the
        // smallest goes first: " b", " c", " ab", " bc", " cd"; then nothing occurs twice.
        let bpe = Bpe::learn("ab ab ab bc bc cd cd", 300);
        assert_eq!(
            bpe.merges,
            [
                (97, 98),
                (32, 98),
                (32, 99),
                (32, 256),
                (257, 99),
                (258, 100)
            ]
        );
        assert_eq!(bpe.len(), 262);
        assert_eq!(bpe.encode(" cd ab"), [261, 259]);
        assert_eq!(bpe.token_bytes(260), b" bc");
    }

    #[test]
    fn training_chunks_encode_to_what_the_learner_made_of_them() {
        let text = "the cat sat on the mat. the cat ate the rat! a cat is a cat.";
        let (bpe, segmented) = Bpe::learn_chunks(text, 256 + 20);
        // at, " c", he, "the", " cat", " the", " a"; then no pair occurs twice (a Python re-statement agrees).
        assert_eq!(
            bpe.merges,
            [
                (97, 116),
                (32, 99),
                (104, 101),
                (116, 258),
                (257, 256),
                (32, 259),
                (32, 97)
            ]
        );
        for (chunk, seq) in &segmented {
            assert_eq!(&bpe.encode(chunk), seq, "{chunk:?}");
        }
        let ids = bpe.encode(text);
        assert_eq!(bpe.decode(&ids), text.as_bytes());
        assert!(
            ids.len() * 3 < text.len() * 2,
            "{} tokens for {} bytes",
            ids.len(),
            text.len()
        );
        // " cat" is frequent enough to be one token.
        let cat = bpe.encode(" cat");
        assert_eq!(cat.len(), 1, "{cat:?}");
        assert_eq!(bpe.token_bytes(cat[0]), b" cat");
    }

    proptest! {
        #[test]
        fn any_text_round_trips_and_chunks_cover_it(text in "\\PC{0,60}|[a-z ,.!?\u{e9}\u{4e2d}\u{1f600}\\n\\t]{0,80}") {
            let mut joined = String::new();
            chunks(&text, |c| joined.push_str(c));
            prop_assert_eq!(&joined, &text);
            let bpe = Bpe::learn("the quick brown fox, the lazy dog. \u{4e2d}\u{6587} \u{1f600}\u{1f600}", 300);
            prop_assert_eq!(bpe.decode(&bpe.encode(&text)), text.as_bytes());
            // Merges learned on the text itself: the encoder segments each chunk as the learner left it.
            let (own, segmented) = Bpe::learn_chunks(&text, 280);
            prop_assert_eq!(own.decode(&own.encode(&text)), text.as_bytes());
            for (chunk, seq) in &segmented {
                prop_assert_eq!(&own.encode(chunk), seq);
            }
        }
    }
}
