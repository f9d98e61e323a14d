//! Byte-pair encoding without allocating: [`Merges`] over the format's merge table (`vocab.merges` of a
//! `Level::Bpe` model), [`encode`] into a caller's buffer, [`Utf8Stream`] to print token bytes as text.
//!
//! Tokens `0..256` are the bytes; merge `(left, right) → merged` joins two earlier tokens, and a lower `merged`
//! id merges first. Text is cut into chunks exactly as the trainer's learner cuts it (`trainer/src/bpe.rs`): a
//! whitespace character starts a chunk, a single space joins the chunk after it, and a switch between
//! alphanumeric and other characters starts one; merges never cross chunks.

use core::fmt::{self, Write};

use crate::Error;

/// Tokens before any merge: one per byte value.
pub const BYTES: u32 = 256;

/// Bytes per merge in the table: `left`, `right`, `merged`, each a little-endian u32.
const ENTRY: usize = 12;

/// The table `Merges::new` reads, for merges given in rank order (merge `r` makes token `256 + r` of the pair
/// `merges[r]`): per merge `(left, right, merged)` as three little-endian u32, sorted by `(left, right)`
/// (feature `alloc`; the writer, the trainer and the tests build tables through this).
#[cfg(feature = "alloc")]
pub fn table_bytes(merges: &[(u32, u32)]) -> alloc::vec::Vec<u8> {
    let mut entries: alloc::vec::Vec<(u32, u32, u32)> = merges
        .iter()
        .zip(BYTES..)
        .map(|(&(a, b), m)| (a, b, m))
        .collect();
    entries.sort_unstable();
    entries
        .into_iter()
        .flat_map(|(a, b, m)| [a, b, m])
        .flat_map(u32::to_le_bytes)
        .collect()
}

/// A merge table: entries `(left, right, merged)` sorted strictly by `(left, right)`, borrowed from the model
/// bytes (the `vocab.merges` field of `core/FORMAT.md`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Merges<'a> {
    bytes: &'a [u8],
}

fn word(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

impl<'a> Merges<'a> {
    /// Checks a table for a vocabulary of `vocab` tokens: whole entries, sorted strictly by pair, every
    /// `merged` id in `256..vocab` and greater than both of its parts, each merged id once.
    pub fn new(bytes: &'a [u8], vocab: u32) -> Result<Self, Error> {
        if !bytes.len().is_multiple_of(ENTRY) {
            return Err(Error::BadVocabulary);
        }
        let m = Self { bytes };
        let mut prev: Option<(u32, u32)> = None;
        for i in 0..m.len() {
            let (l, r, id) = m.entry(i);
            if prev.is_some_and(|p| p >= (l, r)) {
                return Err(Error::UnsortedIndex);
            }
            if !(BYTES..vocab).contains(&id) || l >= id || r >= id {
                return Err(Error::TokenOutOfRange { id, vocab });
            }
            prev = Some((l, r));
        }
        // One merge per id above the bytes. (That no id is made twice is not checked: it would cost M²
        // comparisons, and a repeated id only makes two pairs encode alike — no panic, no read out of range.)
        if m.len() as u32 != vocab.saturating_sub(BYTES) {
            return Err(Error::BadVocabulary);
        }
        Ok(m)
    }

    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.bytes.len() / ENTRY
    }

    /// Whether the table is empty (bytes only).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn entry(&self, i: usize) -> (u32, u32, u32) {
        let at = i * ENTRY;
        (
            word(self.bytes, at),
            word(self.bytes, at + 4),
            word(self.bytes, at + 8),
        )
    }

    /// The entries `(left, right, merged)` in table order (sorted by pair).
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        (0..self.len()).map(|i| self.entry(i))
    }

    /// The token `(left, right)` merges into, if any (binary search).
    pub fn find(&self, left: u32, right: u32) -> Option<u32> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (l, r, id) = self.entry(mid);
            match (l, r).cmp(&(left, right)) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Some(id),
            }
        }
        None
    }
}

/// Calls `f` with each chunk of `text`, in order (they concatenate back to `text`).
///
/// ```
/// let mut chunks = Vec::new();
/// quill_core::text::bpe::chunks("Hello, world!  ok", |c| chunks.push(c));
/// assert_eq!(chunks, ["Hello", ",", " world", "!", " ", " ok"]);
/// ```
pub fn chunks<'t>(text: &'t str, mut f: impl FnMut(&'t str)) {
    let mut start = 0;
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if let Some(p) = prev {
            let boundary = if c.is_whitespace() {
                true
            } else if p.is_whitespace() {
                p != ' '
            } else {
                p.is_alphanumeric() != c.is_alphanumeric()
            };
            if boundary && i > start {
                if let Some(chunk) = text.get(start..i) {
                    f(chunk);
                }
                start = i;
            }
        }
        prev = Some(c);
    }
    if let Some(rest) = text.get(start..).filter(|r| !r.is_empty()) {
        f(rest);
    }
}

/// Merges one chunk in place in `seq` (its bytes as tokens): while an adjacent pair has a merge, every place of
/// the lowest-id one, left to right. Returns the tokens left.
fn merge_chunk(seq: &mut [u32], merges: &Merges<'_>) -> usize {
    let mut n = seq.len();
    loop {
        let mut best: Option<(u32, u32, u32)> = None;
        for i in 1..n {
            let (Some(&l), Some(&r)) = (seq.get(i - 1), seq.get(i)) else {
                break;
            };
            if let Some(id) = merges.find(l, r) {
                if best.is_none_or(|b| id < b.2) {
                    best = Some((l, r, id));
                }
            }
        }
        let Some((l, r, id)) = best else { return n };
        let (mut read, mut write) = (0, 0);
        while read < n {
            let a = seq.get(read).copied().unwrap_or(0);
            let b = seq.get(read + 1).copied();
            let (token, step) = if read + 1 < n && a == l && b == Some(r) {
                (id, 2)
            } else {
                (a, 1)
            };
            if let Some(slot) = seq.get_mut(write) {
                *slot = token;
            }
            write += 1;
            read += step;
        }
        n = write;
    }
}

/// Encodes `text` into `out`; returns the tokens written. `out` needs one slot per byte of `text` at most.
///
/// ```
/// use quill_core::text::bpe::{encode, Merges};
/// // Merges: (a, t) → 256, (c, 256) → 257, (space, 257) → 258.
/// let mut table = Vec::new();
/// for (l, r, m) in [(32u32, 257u32, 258u32), (97, 116, 256), (99, 256, 257)] {
///     for v in [l, r, m] { table.extend_from_slice(&v.to_le_bytes()); }
/// }
/// let merges = Merges::new(&table, 259)?;
/// let mut out = [0u32; 16];
/// let n = encode("a cat", &merges, &mut out)?;
/// assert_eq!(&out[..n], &[97, 258]);
/// # Ok::<(), quill_core::Error>(())
/// ```
pub fn encode(text: &str, merges: &Merges<'_>, out: &mut [u32]) -> Result<usize, Error> {
    if text.len() > out.len() {
        return Err(Error::CapacityTooSmall {
            what: "tokens",
            needed: text.len(),
            capacity: out.len(),
        });
    }
    let mut n = 0;
    chunks(text, |chunk| {
        let Some(window) = out.get_mut(n..n + chunk.len()) else {
            return;
        };
        for (slot, b) in window.iter_mut().zip(chunk.bytes()) {
            *slot = u32::from(b);
        }
        n += merge_chunk(window, merges);
    });
    Ok(n)
}

/// Prints token bytes as text: a UTF-8 character split across tokens is printed once it is complete; a byte that
/// cannot start or continue a character is printed as U+FFFD.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Stream {
    pending: [u8; 4],
    len: usize,
}

/// Bytes of the UTF-8 character a lead byte starts (0: not a lead byte).
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

impl Utf8Stream {
    /// Takes the bytes of one token; writes every character they complete.
    pub fn push(&mut self, bytes: &[u8], out: &mut impl Write) -> fmt::Result {
        for &b in bytes {
            if self.len == 0 {
                match char_len(b) {
                    0 => out.write_char(char::REPLACEMENT_CHARACTER)?,
                    1 => out.write_char(char::from(b))?,
                    _ => {
                        self.pending[0] = b;
                        self.len = 1;
                    }
                }
                continue;
            }
            if b & 0xC0 != 0x80 {
                // The character was cut short: say so, then start again with this byte.
                self.len = 0;
                out.write_char(char::REPLACEMENT_CHARACTER)?;
                self.push(&[b], out)?;
                continue;
            }
            if let Some(slot) = self.pending.get_mut(self.len) {
                *slot = b;
            }
            self.len += 1;
            let want = char_len(self.pending[0]);
            if self.len == want {
                let done = self.pending.get(..want).unwrap_or(&[]);
                match core::str::from_utf8(done) {
                    Ok(s) => out.write_str(s)?,
                    Err(_) => out.write_char(char::REPLACEMENT_CHARACTER)?,
                }
                self.len = 0;
            }
        }
        Ok(())
    }

    /// Ends the stream: an unfinished character is printed as U+FFFD.
    pub fn finish(&mut self, out: &mut impl Write) -> fmt::Result {
        if self.len > 0 {
            self.len = 0;
            out.write_char(char::REPLACEMENT_CHARACTER)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_across_tokens_prints_once_complete() {
        let mut s = Utf8Stream::default();
        let mut out = String::new();
        let euro = "€".as_bytes(); // E2 82 AC
        s.push(&euro[..1], &mut out).unwrap();
        assert_eq!(out, "");
        s.push(&euro[1..2], &mut out).unwrap();
        assert_eq!(out, "");
        s.push(&[euro[2], b'!'], &mut out).unwrap();
        assert_eq!(out, "€!");
        // A cut-short character and a stray continuation byte are each one U+FFFD.
        s.push(&[0xE2, b'a', 0x80], &mut out).unwrap();
        assert_eq!(out, "€!\u{FFFD}a\u{FFFD}");
        s.push(&[0xF0, 0x9F], &mut out).unwrap();
        s.finish(&mut out).unwrap();
        assert_eq!(out, "€!\u{FFFD}a\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn bad_tables_are_refused() {
        let table = |entries: &[(u32, u32, u32)]| {
            let mut t = Vec::new();
            for &(l, r, m) in entries {
                for v in [l, r, m] {
                    t.extend_from_slice(&v.to_le_bytes());
                }
            }
            t
        };
        let ok = table(&[(97, 98, 256), (256, 99, 257)]);
        assert!(Merges::new(&ok, 258).is_ok());
        assert!(matches!(
            Merges::new(&ok[..11], 258),
            Err(Error::BadVocabulary)
        ));
        let unsorted = table(&[(256, 99, 257), (97, 98, 256)]);
        assert!(matches!(
            Merges::new(&unsorted, 258),
            Err(Error::UnsortedIndex)
        ));
        let forward = table(&[(97, 257, 256), (256, 99, 257)]);
        assert!(matches!(
            Merges::new(&forward, 258),
            Err(Error::TokenOutOfRange { .. })
        ));
        assert!(matches!(Merges::new(&ok, 300), Err(Error::BadVocabulary)));
        let mut out = [0u32; 2];
        let m = Merges::new(&ok, 258).unwrap();
        assert!(matches!(
            encode("abcd", &m, &mut out),
            Err(Error::CapacityTooSmall { .. })
        ));
    }
}
