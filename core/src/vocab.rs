//! The vocabulary: token strings borrowed from the model bytes, looked up by binary search.

use crate::error::Error;
use crate::format::Level;
use crate::text::bpe::{Merges, BYTES};
use core::cmp::Ordering;

/// Token strings and their sorted index, validated once at load.
#[derive(Clone, Copy, Debug)]
pub struct Vocab<'a> {
    /// (V+1) u32 LE offsets into `text`, strictly increasing (on char boundaries for word and char levels).
    offsets: &'a [u8],
    /// Concatenated token strings: UTF-8 for word and char levels, byte strings for BPE.
    text: &'a [u8],
    /// V u32 LE ids sorted by string bytes, no duplicates.
    sorted: &'a [u8],
    /// The BPE merge table (empty for word and char levels).
    merges: Merges<'a>,
}

#[inline(always)]
fn u32_at(bytes: &[u8], i: usize) -> Option<u32> {
    match bytes.get(4 * i..4 * i + 4) {
        Some(&[a, b, c, d]) => Some(u32::from_le_bytes([a, b, c, d])),
        _ => None,
    }
}

impl<'a> Vocab<'a> {
    /// Checks a stored vocabulary of `len` tokens for `level`. Word and char: UTF-8 text, tokens on character
    /// boundaries, no merges. BPE: token `b < 256` is the byte `b`, `merges` is a valid table
    /// ([`Merges::new`]) and each merged token's bytes are its two parts' bytes, so encoding and printing agree.
    pub(crate) fn new(
        offsets: &'a [u8],
        text: &'a [u8],
        sorted: &'a [u8],
        merges: &'a [u8],
        len: usize,
        level: Level,
    ) -> Result<Self, Error> {
        if offsets.len() != 4 * (len + 1) || sorted.len() != 4 * len {
            return Err(Error::BadVocabulary);
        }
        let table = match level {
            Level::Bpe => Merges::new(merges, u32::try_from(len).unwrap_or(u32::MAX))?,
            _ if merges.is_empty() => Merges::default(),
            _ => return Err(Error::BadVocabulary),
        };
        let v = Self {
            offsets,
            text,
            sorted,
            merges: table,
        };
        if u32_at(offsets, 0) != Some(0)
            || u32_at(offsets, len).map(|e| e as usize) != Some(text.len())
        {
            return Err(Error::BadVocabulary);
        }
        let utf8 = match level {
            Level::Bpe => None,
            _ => Some(core::str::from_utf8(text).map_err(|_| Error::BadVocabulary)?),
        };
        for i in 0..len {
            let (a, b) = (
                u32_at(offsets, i).unwrap_or(0) as usize,
                u32_at(offsets, i + 1).unwrap_or(0) as usize,
            );
            if a >= b || utf8.is_some_and(|t| !t.is_char_boundary(a) || !t.is_char_boundary(b)) {
                return Err(Error::BadVocabulary);
            }
        }
        if level == Level::Bpe {
            for b in 0..BYTES {
                if v.token_bytes(b) != [b as u8] {
                    return Err(Error::BadVocabulary);
                }
            }
            for (l, r, m) in table.iter() {
                let (l, r, m) = (v.token_bytes(l), v.token_bytes(r), v.token_bytes(m));
                if m.len() != l.len() + r.len() || !m.starts_with(l) || !m.ends_with(r) {
                    return Err(Error::BadVocabulary);
                }
            }
        }
        // Sorted, in range and strictly increasing ⇒ a permutation without duplicates.
        let mut prev: Option<&[u8]> = None;
        for k in 0..len {
            let id = u32_at(sorted, k).unwrap_or(u32::MAX) as usize;
            if id >= len {
                return Err(Error::UnsortedIndex);
            }
            let s = v.token_bytes(id as u32);
            if prev.is_some_and(|p| p >= s) {
                return Err(Error::UnsortedIndex);
            }
            prev = Some(s);
        }
        Ok(v)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.sorted.len() / 4
    }

    /// Whether the vocabulary is empty (never, for a loaded model).
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The bytes of token `id` (empty for ids out of range).
    pub fn token_bytes(&self, id: u32) -> &'a [u8] {
        let i = id as usize;
        match (u32_at(self.offsets, i), u32_at(self.offsets, i + 1)) {
            (Some(a), Some(b)) => self.text.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The string of token `id`: always whole for word and char levels; empty for ids out of range and for
    /// BPE tokens whose bytes are not UTF-8 on their own (part of a character: see [`Self::token_bytes`]).
    pub fn token(&self, id: u32) -> &'a str {
        core::str::from_utf8(self.token_bytes(id)).unwrap_or("")
    }

    /// The BPE merge table (empty for word and char levels).
    pub fn merges(&self) -> &Merges<'a> {
        &self.merges
    }

    /// The id of the token spelled `s`, by binary search over the sorted index.
    pub fn lookup(&self, s: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let id = u32_at(self.sorted, mid)?;
            match self.token_bytes(id).cmp(s.as_bytes()) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(id),
            }
        }
        None
    }

    /// All token strings in id order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len() as u32).map(|i| self.token(i))
    }
}
