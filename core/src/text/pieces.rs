//! Splitting normalized text into the pieces that become tokens.

use crate::format::{Level, Profile};

/// One token-to-be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece<'t> {
    /// The token's text: always a slice of the text given to [`pieces`], so its offset there is known.
    pub text: &'t str,
    /// Whether a sentence ends with this piece (`.`, and for `default` also `!` and `?`).
    pub sentence_end: bool,
}

/// Punctuation that is always a token of its own in the `default` profile.
fn is_default_punct(c: char) -> bool {
    matches!(c, '.' | ',' | '!' | '?' | ';' | ':' | '"')
}

/// Calls `f` for each piece of normalized `text`, in order.
///
/// * `Char` level: every character (sentences end at `.`, `!`, `?`).
/// * `Bpe` level: the chunks merges stay inside ([`super::bpe::chunks`]); a chunk ending in `.`, `!` or `?`
///   ends a sentence.
/// * `Word` level, `seed` profile: sentences are split at `.` (as the notebook did), words inside a sentence are
///   split at `' '`, `\t`, `\n` and `_` (Keras `Tokenizer`'s filters that can survive the seed cleaning); a
///   sentence ended by `.` is followed by a `.` piece.
/// * `Word` level, `default` and `cased` profiles: words are split at `' '`; `. , ! ? ; : "` are pieces of their own; `'` and
///   `-` at the edges of a word are pieces of their own, inside a word they stay (`don't`, `well-known`).
///
/// ```
/// use quill_core::{text::pieces, Level, Profile};
/// let mut v = Vec::new();
/// pieces(Level::Word, Profile::Default, "\"yes,\" i said. 'well-known'", |p| v.push(p.text));
/// assert_eq!(v, ["\"", "yes", ",", "\"", "i", "said", ".", "'", "well-known", "'"]);
/// ```
pub fn pieces<'t>(level: Level, profile: Profile, text: &'t str, mut f: impl FnMut(Piece<'t>)) {
    match (level, profile) {
        (Level::Bpe, _) => super::bpe::chunks(text, |chunk| {
            f(Piece {
                text: chunk,
                sentence_end: chunk.ends_with(['.', '!', '?']),
            })
        }),
        (Level::Char, _) => {
            for (i, c) in text.char_indices() {
                let piece = text.get(i..i + c.len_utf8()).unwrap_or("");
                f(Piece {
                    text: piece,
                    sentence_end: matches!(c, '.' | '!' | '?'),
                });
            }
        }
        (Level::Word, Profile::Seed) => {
            for sentence in text.split_inclusive('.') {
                let (body, ended) = match sentence.strip_suffix('.') {
                    Some(body) => (body, true),
                    None => (sentence, false),
                };
                let mut any = false;
                for w in body.split([' ', '\t', '\n', '_']).filter(|w| !w.is_empty()) {
                    any = true;
                    f(Piece {
                        text: w,
                        sentence_end: false,
                    });
                }
                if ended && any {
                    f(Piece {
                        text: sentence.get(body.len()..).unwrap_or("."),
                        sentence_end: true,
                    });
                }
            }
        }
        (Level::Word, Profile::Default | Profile::Cased | Profile::Text) => {
            for chunk in text.split(' ').filter(|c| !c.is_empty()) {
                let mut rest = chunk;
                while !rest.is_empty() {
                    let word_len = rest.find(is_default_punct).unwrap_or(rest.len());
                    word(rest.get(..word_len).unwrap_or(""), &mut f);
                    let after = rest.get(word_len..).unwrap_or("");
                    if let Some(p) = after.chars().next() {
                        let piece = after.get(..p.len_utf8()).unwrap_or("");
                        f(Piece {
                            text: piece,
                            sentence_end: matches!(p, '.' | '!' | '?'),
                        });
                        rest = after.get(p.len_utf8()..).unwrap_or("");
                    } else {
                        rest = "";
                    }
                }
            }
        }
    }
}

/// A run without `. , ! ? ; : "`: edge `'` and `-` become pieces of their own.
fn word<'t>(w: &'t str, f: &mut impl FnMut(Piece<'t>)) {
    let edge = |c: char| c == '\'' || c == '-';
    let core = w.trim_matches(edge);
    if core.is_empty() {
        for (i, c) in w.char_indices() {
            f(Piece {
                text: w.get(i..i + c.len_utf8()).unwrap_or(""),
                sentence_end: false,
            });
        }
        return;
    }
    let lead = w.len() - w.trim_start_matches(edge).len();
    for i in 0..lead {
        f(Piece {
            text: w.get(i..i + 1).unwrap_or(""),
            sentence_end: false,
        });
    }
    f(Piece {
        text: core,
        sentence_end: false,
    });
    let trail_start = lead + core.len();
    for i in trail_start..w.len() {
        f(Piece {
            text: w.get(i..i + 1).unwrap_or(""),
            sentence_end: false,
        });
    }
}
