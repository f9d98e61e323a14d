//! Building a vocabulary from corpus pieces (Keras `Tokenizer` order) and encoding text with it.

use std::collections::HashMap;

use anyhow::{bail, Result};
use quill_core::text::pieces;
use quill_core::{Level, Profile, TokenizerSpec, Unknown};

/// The unknown-word token of the `default` profile.
pub const UNK: &str = "<unk>";

/// A vocabulary with its tokenizer settings.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Vocabulary {
    /// Token strings by id.
    pub tokens: Vec<String>,
    /// Word or char.
    pub level: Level,
    /// Cleaning profile.
    pub profile: Profile,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

/// Corpus text as token ids, with the positions where sentences end.
#[derive(Clone, Debug, Default)]
pub struct Encoded {
    /// Token ids.
    pub ids: Vec<u32>,
    /// `true` where the token ends a sentence.
    pub sentence_end: Vec<bool>,
    /// Pieces not in the vocabulary (mapped to `<unk>` or dropped).
    pub unknown: usize,
}

impl Vocabulary {
    /// Counts pieces of cleaned `text`, orders them by frequency (ties: first appearance), keeps at most
    /// `max_vocab` tokens (special tokens included) with count ≥ `min_count`.
    pub fn build(
        text: &str,
        level: Level,
        profile: Profile,
        max_vocab: usize,
        min_count: usize,
    ) -> Result<Self> {
        let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut order = 0;
        pieces(level, profile, text, |p| {
            let e = counts.entry(p.text).or_insert((0, order));
            e.0 += 1;
            order += 1;
        });
        let mut items: Vec<(&str, usize, usize)> =
            counts.into_iter().map(|(k, (c, o))| (k, c, o)).collect();
        items.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
        let mut tokens = Vec::new();
        if Self::maps_unknown(level, profile) {
            tokens.push(UNK.to_string());
        }
        for (t, c, _) in items {
            if tokens.len() >= max_vocab || c < min_count {
                break;
            }
            if t != UNK {
                tokens.push(t.to_string());
            }
        }
        if tokens.len() < 2 + usize::from(Self::maps_unknown(level, profile)) {
            bail!("the corpus yields fewer than 2 distinct tokens after cleaning; give more text or lower --min-count");
        }
        Ok(Self::from_tokens(tokens, level, profile))
    }

    /// Whether unknown words become `<unk>` (default profile) or are dropped (seed, as Keras did).
    fn maps_unknown(level: Level, profile: Profile) -> bool {
        level == Level::Word && matches!(profile, Profile::Default | Profile::Cased)
    }

    /// A vocabulary from its token list.
    pub fn from_tokens(tokens: Vec<String>, level: Level, profile: Profile) -> Self {
        let index = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Self {
            tokens,
            level,
            profile,
            index,
        }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of a token.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }

    /// The tokenizer settings written into exported models.
    pub fn spec(&self) -> TokenizerSpec {
        let unknown = match self.id(UNK) {
            Some(id) if Self::maps_unknown(self.level, self.profile) => Unknown::Map(id),
            _ => Unknown::Skip,
        };
        let sentence_end = if self.level == Level::Word {
            self.id(".")
        } else {
            None
        };
        TokenizerSpec {
            level: self.level,
            profile: self.profile,
            unknown,
            sentence_end,
            // Cased text keeps its own capitals.
            capitalize: self.level == Level::Word && self.profile != Profile::Cased,
        }
    }

    /// Encodes cleaned text.
    pub fn encode(&self, text: &str) -> Encoded {
        let mut out = Encoded::default();
        let unk = self
            .id(UNK)
            .filter(|_| Self::maps_unknown(self.level, self.profile));
        pieces(self.level, self.profile, text, |p| {
            let id = match (self.id(p.text), unk) {
                (Some(id), _) => id,
                (None, Some(u)) => {
                    out.unknown += 1;
                    u
                }
                (None, None) => {
                    out.unknown += 1;
                    // A dropped word still ends its sentence if it was the last piece.
                    if p.sentence_end {
                        if let Some(last) = out.sentence_end.last_mut() {
                            *last = true;
                        }
                    }
                    return;
                }
            };
            out.ids.push(id);
            out.sentence_end.push(p.sentence_end);
        });
        out
    }
}
