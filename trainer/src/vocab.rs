//! Building a vocabulary from corpus pieces (Keras `Tokenizer` order) or byte-pair merges ([`crate::bpe`]), and
//! encoding text with it.

use std::collections::HashMap;

use anyhow::{bail, Result};
use quill_core::text::pieces;
use quill_core::{Level, Model, Profile, TokenizerSpec, Unknown};

use crate::bpe::{Bpe, BYTES};

/// The unknown-word token of the `default` profile.
pub const UNK: &str = "<unk>";

/// A vocabulary with its tokenizer settings.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Vocabulary {
    /// Token strings by id (word and char levels; empty for BPE, whose tokens are the byte strings `merges`
    /// spells).
    pub tokens: Vec<String>,
    /// Word, char or BPE.
    pub level: Level,
    /// Cleaning profile.
    pub profile: Profile,
    /// BPE: merge `r` joins a pair of tokens into token `256 + r` (empty for word and char levels).
    #[serde(default)]
    pub merges: Vec<(u32, u32)>,
    /// Token string → id (word and char levels).
    #[serde(skip)]
    index: HashMap<String, u32>,
    /// The BPE encoder over `merges`.
    #[serde(skip)]
    bpe: Bpe,
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
    /// Per token, the characters of cleaned text it stands for: its own and those up to the next token (the
    /// space between words, words dropped as unknown). Their sum over a split is what bits per character divide
    /// by, on every level alike.
    pub chars: Vec<u32>,
}

/// Characters per token of `text` given each token's byte offset (`starts`, increasing): from one start to the
/// next, the last to the end of the text.
fn chars_between(text: &str, starts: &[usize]) -> Vec<u32> {
    let ends = starts.iter().skip(1).copied().chain([text.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&a, b)| text.get(a..b).map_or(0, |t| t.chars().count() as u32))
        .collect()
}

/// A BPE vocabulary needs room for a merge beyond the 256 bytes (`TrainSettings::validate` and
/// [`Vocabulary::build`] both ask).
pub fn check_bpe_size(max_vocab: usize) -> Result<()> {
    if max_vocab <= BYTES as usize {
        bail!("--max-vocab {max_vocab}: a BPE vocabulary has the 256 bytes and at least one merge; pass 257 or more (1024 to 8192 are typical)");
    }
    Ok(())
}

impl Encoded {
    /// Characters of cleaned text these tokens stand for.
    pub fn char_count(&self) -> u64 {
        self.chars.iter().map(|&c| u64::from(c)).sum()
    }

    /// Tokens `range`, with their sentence ends and characters.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Self {
        Self {
            ids: self.ids[range.clone()].to_vec(),
            sentence_end: self.sentence_end[range.clone()].to_vec(),
            unknown: 0,
            chars: self.chars[range].to_vec(),
        }
    }

    /// Keeps the first `n` tokens.
    pub fn truncate(&mut self, n: usize) {
        self.ids.truncate(n);
        self.sentence_end.truncate(n);
        self.chars.truncate(n);
    }
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
        if level == Level::Bpe {
            check_bpe_size(max_vocab)?;
            let bpe = Bpe::learn(text, max_vocab);
            if bpe.is_empty() {
                bail!("the corpus has no pair of bytes twice after cleaning: give more text");
            }
            return Ok(Self::from_merges(bpe.merges, profile));
        }
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
        level == Level::Word && matches!(profile, Profile::Default | Profile::Cased | Profile::Text)
    }

    /// A word or char vocabulary from its token list.
    pub fn from_tokens(tokens: Vec<String>, level: Level, profile: Profile) -> Self {
        Self {
            tokens,
            level,
            profile,
            merges: Vec::new(),
            index: HashMap::new(),
            bpe: Bpe::default(),
        }
        .reindexed()
    }

    /// A BPE vocabulary from its merges.
    pub fn from_merges(merges: Vec<(u32, u32)>, profile: Profile) -> Self {
        Self {
            tokens: Vec::new(),
            level: Level::Bpe,
            profile,
            merges,
            index: HashMap::new(),
            bpe: Bpe::default(),
        }
        .reindexed()
    }

    /// The vocabulary a model file holds (its tokens, or for BPE its merges in rank order).
    pub fn from_model(model: &Model<'_>) -> Self {
        let spec = model.tokenizer();
        let vocab = model.vocab();
        if spec.level == Level::Bpe {
            let mut merges = vec![(0, 0); vocab.merges().len()];
            for (l, r, m) in vocab.merges().iter() {
                if let Some(slot) = m
                    .checked_sub(BYTES)
                    .and_then(|i| merges.get_mut(i as usize))
                {
                    *slot = (l, r);
                }
            }
            return Self::from_merges(merges, spec.profile);
        }
        Self::from_tokens(
            vocab.iter().map(String::from).collect(),
            spec.level,
            spec.profile,
        )
    }

    /// Rebuilds the lookup structures the stored fields imply (after deserializing a checkpoint's copy).
    pub fn reindexed(mut self) -> Self {
        if self.level == Level::Bpe {
            self.bpe = Bpe::from_merges(self.merges.clone());
        } else {
            self.index = self
                .tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), i as u32))
                .collect();
        }
        self
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        match self.level {
            Level::Bpe => BYTES as usize + self.merges.len(),
            _ => self.tokens.len(),
        }
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of token `id` (UTF-8 for word and char levels; empty for an id out of range).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        match self.level {
            Level::Bpe => self.bpe.token_bytes(id),
            _ => self
                .tokens
                .get(id as usize)
                .map(|t| t.as_bytes().to_vec())
                .unwrap_or_default(),
        }
    }

    /// The id of a word or char token (BPE has no piece-to-token map: [`Self::encode`] text instead).
    pub fn id(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }

    /// The tokenizer settings written into exported models.
    pub fn spec(&self) -> TokenizerSpec {
        let unknown = match self.id(UNK) {
            Some(id) if Self::maps_unknown(self.level, self.profile) => Unknown::Map(id),
            _ => Unknown::Skip,
        };
        // A BPE vocabulary spells every text: nothing is unknown, and sentences end inside tokens (`."`).
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
            capitalize: self.level == Level::Word
                && matches!(self.profile, Profile::Seed | Profile::Default),
        }
    }

    /// Encodes cleaned text (BPE: a token whose bytes end in `.`, `!` or `?` ends a sentence).
    pub fn encode(&self, text: &str) -> Encoded {
        let mut out = Encoded::default();
        if self.level == Level::Bpe {
            // Per token id: whether it ends a sentence, and its characters (UTF-8 lead bytes: a character split
            // across tokens counts where it starts).
            let per_token: Vec<(bool, u32)> = (0..self.len() as u32)
                .map(|i| {
                    let b = self.bpe.token_bytes(i);
                    let lead = b.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u32;
                    (matches!(b.last(), Some(b'.' | b'!' | b'?')), lead)
                })
                .collect();
            out.ids = self.bpe.encode(text);
            (out.sentence_end, out.chars) = out.ids.iter().map(|&i| per_token[i as usize]).unzip();
            return out;
        }
        let mut starts = Vec::new();
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
            starts.push(p.text.as_ptr() as usize - text.as_ptr() as usize);
        });
        out.chars = chars_between(text, &starts);
        out
    }
}
