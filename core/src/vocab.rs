//! The vocabulary: token strings borrowed from the model bytes, looked up by binary search.

use crate::error::Error;
use core::cmp::Ordering;

/// Token strings and their sorted index, validated once at load.
#[derive(Clone, Copy, Debug)]
pub struct Vocab<'a> {
    /// (V+1) u32 LE offsets into `text`, strictly increasing, on char boundaries.
    offsets: &'a [u8],
    /// Concatenated token strings.
    text: &'a str,
    /// V u32 LE ids sorted by string bytes, no duplicates.
    sorted: &'a [u8],
}

#[inline(always)]
fn u32_at(bytes: &[u8], i: usize) -> Option<u32> {
    match bytes.get(4 * i..4 * i + 4) {
        Some(&[a, b, c, d]) => Some(u32::from_le_bytes([a, b, c, d])),
        _ => None,
    }
}

impl<'a> Vocab<'a> {
    pub(crate) fn new(
        offsets: &'a [u8],
        text: &'a str,
        sorted: &'a [u8],
        len: usize,
    ) -> Result<Self, Error> {
        if offsets.len() != 4 * (len + 1) || sorted.len() != 4 * len {
            return Err(Error::BadVocabulary);
        }
        let v = Self {
            offsets,
            text,
            sorted,
        };
        if u32_at(offsets, 0) != Some(0)
            || u32_at(offsets, len).map(|e| e as usize) != Some(text.len())
        {
            return Err(Error::BadVocabulary);
        }
        for i in 0..len {
            let (a, b) = (
                u32_at(offsets, i).unwrap_or(0) as usize,
                u32_at(offsets, i + 1).unwrap_or(0) as usize,
            );
            if a >= b || !text.is_char_boundary(a) || !text.is_char_boundary(b) {
                return Err(Error::BadVocabulary);
            }
        }
        // Sorted, in range and strictly increasing ⇒ a permutation without duplicates.
        let mut prev: Option<&str> = None;
        for k in 0..len {
            let id = u32_at(sorted, k).unwrap_or(u32::MAX) as usize;
            if id >= len {
                return Err(Error::UnsortedIndex);
            }
            let s = v.token(id as u32);
            if prev.is_some_and(|p| p.as_bytes() >= s.as_bytes()) {
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

    /// The string of token `id` (empty for ids out of range).
    pub fn token(&self, id: u32) -> &'a str {
        let i = id as usize;
        match (u32_at(self.offsets, i), u32_at(self.offsets, i + 1)) {
            (Some(a), Some(b)) => self.text.get(a as usize..b as usize).unwrap_or(""),
            _ => "",
        }
    }

    /// The id of the token spelled `s`, by binary search over the sorted index.
    pub fn lookup(&self, s: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let id = u32_at(self.sorted, mid)?;
            match self.token(id).as_bytes().cmp(s.as_bytes()) {
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
