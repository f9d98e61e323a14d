//! Measures of free-running text (what a model writes when it feeds on its own output): diversity (distinct-n),
//! repetition (the share of 4-grams seen before in the same text) and, for greedy text, how many tokens come before
//! it falls into a loop. Token sequences of any kind: ids, words or characters.

use std::collections::HashSet;
use std::hash::Hash;

/// Distinct-n: distinct n-grams over all n-grams of `tokens` (1.0 for a text without repeats; 0.0 if it has no
/// n-gram).
///
/// ```
/// use quill_trainer::freerun::distinct_n;
/// assert_eq!(distinct_n(&["a", "b", "a", "b"], 2), 2.0 / 3.0); // ab, ba, ab
/// ```
pub fn distinct_n<T: Hash + Eq>(tokens: &[T], n: usize) -> f64 {
    if n == 0 || tokens.len() < n {
        return 0.0;
    }
    let grams: HashSet<&[T]> = tokens.windows(n).collect();
    grams.len() as f64 / (tokens.len() - n + 1) as f64
}

/// The share of `n`-grams that already occurred earlier in the same text.
///
/// ```
/// use quill_trainer::freerun::repeated_ngrams;
/// assert_eq!(repeated_ngrams(&[1, 2, 3, 4, 1, 2, 3, 4], 4), 1.0 / 5.0); // the last 1 2 3 4
/// ```
pub fn repeated_ngrams<T: Hash + Eq>(tokens: &[T], n: usize) -> f64 {
    if n == 0 || tokens.len() < n {
        return 0.0;
    }
    let mut seen = HashSet::new();
    let repeats = tokens.windows(n).filter(|g| !seen.insert(*g)).count();
    repeats as f64 / (tokens.len() - n + 1) as f64
}

/// Longest loop period considered by [`tokens_before_loop`].
pub const MAX_PERIOD: usize = 64;

/// Where a text falls into a loop: the first position from which it repeats one cycle of at most [`MAX_PERIOD`]
/// tokens to the end, at least twice over; `None` if it never does. A greedy decoder that reaches a state it was
/// in before repeats itself forever, so for greedy text this is the number of tokens written before the loop.
///
/// ```
/// use quill_trainer::freerun::tokens_before_loop;
/// let text = ["we", "the", "people", "of", "the", "united", "states", "of", "the", "united", "states"];
/// assert_eq!(tokens_before_loop(&text), Some(3)); // "of the united states" from position 3
/// assert_eq!(tokens_before_loop(&["a", "b", "c", "d"]), None);
/// ```
pub fn tokens_before_loop<T: Eq>(tokens: &[T]) -> Option<usize> {
    let len = tokens.len();
    (1..=MAX_PERIOD.min(len / 2))
        .filter_map(|p| {
            // The periodic suffix with period p: extend it backwards while t[j] == t[j + p].
            let mut start = len - p;
            while start > 0 && tokens[start - 1] == tokens[start - 1 + p] {
                start -= 1;
            }
            (len - start >= 2 * p).then_some(start)
        })
        .min()
}

/// The measures of one generated text (its token ids, prompt excluded), as `quill generate --stats` prints them.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct TextStats {
    /// Distinct bigrams / bigrams.
    pub distinct2: f64,
    /// Distinct trigrams / trigrams.
    pub distinct3: f64,
    /// Share of 4-grams seen earlier in the text.
    pub repeated4: f64,
    /// Tokens before the text falls into a loop (`None`: it does not).
    pub loop_after: Option<usize>,
}

impl TextStats {
    /// The measures of `ids`.
    pub fn of<T: Hash + Eq>(ids: &[T]) -> Self {
        Self {
            distinct2: distinct_n(ids, 2),
            distinct3: distinct_n(ids, 3),
            repeated4: repeated_ngrams(ids, 4),
            loop_after: tokens_before_loop(ids),
        }
    }

    /// One line: `distinct-2 0.495, distinct-3 0.643, repeated 4-grams 0.278, no loop in 100 tokens`.
    pub fn describe(&self, tokens: usize) -> String {
        let lp = self
            .loop_after
            .map_or(format!("no loop in {tokens} tokens"), |n| {
                format!("loops after {n} tokens")
            });
        format!(
            "distinct-2 {:.3}, distinct-3 {:.3}, repeated 4-grams {:.3}, {lp}",
            self.distinct2, self.distinct3, self.repeated4
        )
    }

    /// The mean over `all` texts of `tokens` tokens each, how many loop and after how many tokens on average;
    /// `None` for fewer than two texts.
    pub fn summary(all: &[Self], tokens: usize) -> Option<String> {
        if all.len() < 2 {
            return None;
        }
        let n = all.len() as f64;
        let mean = |f: fn(&Self) -> f64| all.iter().map(f).sum::<f64>() / n;
        let loops: Vec<usize> = all.iter().filter_map(|s| s.loop_after).collect();
        let before = match loops.len() {
            0 => String::new(),
            k => format!(
                ", after {:.1} tokens on average",
                loops.iter().sum::<usize>() as f64 / k as f64
            ),
        };
        Some(format!(
            "stats over {} texts of {tokens} tokens: distinct-2 {:.3}, distinct-3 {:.3}, repeated 4-grams {:.3}, {} loop{before}",
            all.len(),
            mean(|s| s.distinct2),
            mean(|s| s.distinct3),
            mean(|s| s.repeated4),
            loops.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_loop_is_found_where_it_starts() {
        // 5 tokens of preamble, then a 3-token cycle repeated 4 times.
        let mut t: Vec<u32> = vec![10, 11, 12, 13, 14];
        for _ in 0..4 {
            t.extend([1, 2, 3]);
        }
        assert_eq!(tokens_before_loop(&t), Some(5));
        // One repetition is not a loop yet.
        assert_eq!(tokens_before_loop(&[10, 11, 1, 2, 3, 4, 1, 2, 3]), None);
        // A constant tail is a loop of period 1.
        assert_eq!(tokens_before_loop(&[4, 5, 6, 6, 6, 6]), Some(2));
        // Periods longer than MAX_PERIOD are not looked for.
        let long: Vec<usize> = (0..MAX_PERIOD + 1).chain(0..MAX_PERIOD + 1).collect();
        assert_eq!(tokens_before_loop(&long), None);
    }

    #[test]
    fn ngram_counts_match_hand_counts() {
        let t = ["the", "people", "of", "the", "people", "of", "the", "state"];
        // Bigrams: the-people, people-of, of-the, the-people, people-of, of-the, the-state: 4 distinct of 7.
        assert_eq!(distinct_n(&t, 2), 4.0 / 7.0);
        // Trigrams: tpo, pot, otp, tpo, pot, ots: 4 distinct of 6.
        assert_eq!(distinct_n(&t, 3), 4.0 / 6.0);
        // 4-grams: tpot, potp, otpo, tpot, pots: the second tpot is a repeat: 1 of 5.
        assert_eq!(repeated_ngrams(&t, 4), 1.0 / 5.0);
        assert_eq!(distinct_n(&t[..1], 2), 0.0);
        assert_eq!(repeated_ngrams::<u8>(&[], 4), 0.0);
    }
}
