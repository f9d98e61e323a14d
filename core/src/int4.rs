//! Where an int4 tensor keeps each weight and multiplier (`FORMAT.md`, "int4"): one definition for the loader's
//! checks, the writer, the reference product and the dequantized reads.
//!
//! Rows go in blocks of [`INT4_BLOCK`] = 32, columns in groups of [`INT4_GROUP`] = 32. A block's group is 512
//! bytes: 8 chunks of 4 columns, each chunk 16 lanes of 4 bytes, byte `j` of lane `l` holding column `4k + j` of row
//! `l` in its low nibble and of row `l + 16` in its high nibble. So one 64-byte load is 32 rows × 4 columns, a lane
//! is one 32-bit word that `vpdpbusd` multiplies against 4 broadcast activations, and the high nibbles need no shift
//! (the kernels subtract the low ones). Multipliers come first, 32 bytes per block and group (row order).

use crate::format::{INT4_BLOCK, INT4_GROUP};

/// Bytes of nibbles per block and group: 32 rows × 32 columns × 4 bits.
pub(crate) const GROUP_BYTES: usize = INT4_BLOCK * INT4_GROUP / 2;

/// Bytes per chunk: 16 lanes × 4 columns × 2 rows.
pub(crate) const CHUNK_BYTES: usize = 64;

/// An int4 tensor's dimensions and the offsets they imply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Int4Shape {
    /// Rows stored (the last block padded to 32 with zero rows).
    pub(crate) rows: usize,
    /// Columns (the last group padded to 32 with zero columns).
    pub(crate) cols: usize,
    /// `ceil(cols / 32)`.
    pub(crate) groups: usize,
    /// `ceil(rows / 32)`.
    pub(crate) blocks: usize,
}

impl Int4Shape {
    /// The layout of a `rows × cols` tensor.
    pub(crate) const fn new(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            groups: cols.div_ceil(INT4_GROUP),
            blocks: rows.div_ceil(INT4_BLOCK),
        }
    }

    /// Bytes of multipliers (they come first).
    pub(crate) const fn mult_len(&self) -> usize {
        self.blocks * self.groups * INT4_BLOCK
    }

    /// Bytes of `data` in all, or `None` if that overflows.
    pub(crate) fn len(&self) -> Option<usize> {
        self.blocks
            .checked_mul(self.groups)?
            .checked_mul(INT4_BLOCK + GROUP_BYTES)
    }

    /// Index in `data` of the multiplier of row `r`, group `g`.
    #[inline(always)]
    pub(crate) const fn mult_at(&self, r: usize, g: usize) -> usize {
        ((r / INT4_BLOCK) * self.groups + g) * INT4_BLOCK + r % INT4_BLOCK
    }

    /// Index in `data` of the 512 bytes of block `b`, group `g`.
    #[inline(always)]
    pub(crate) const fn group_at(&self, b: usize, g: usize) -> usize {
        self.mult_len() + (b * self.groups + g) * GROUP_BYTES
    }

    /// Index in `data` of the byte holding weight `(r, c)`, and the shift of its nibble (0 low, 4 high).
    #[inline(always)]
    pub(crate) const fn nibble_at(&self, r: usize, c: usize) -> (usize, u32) {
        let (i, g, k) = (r % INT4_BLOCK, c / INT4_GROUP, c % INT4_GROUP);
        let lane = i % 16;
        let at = self.group_at(r / INT4_BLOCK, g) + (k / 4) * CHUNK_BYTES + 4 * lane + k % 4;
        (at, if i < 16 { 0 } else { 4 })
    }

    /// Weight `(r, c)` of `data`: the nibble minus 8 (0 for bytes that are not there).
    #[inline(always)]
    pub(crate) fn q(&self, data: &[u8], r: usize, c: usize) -> i8 {
        let (at, shift) = self.nibble_at(r, c);
        let b = data.get(at).copied().unwrap_or(0x88);
        ((b >> shift) & 0x0F) as i8 - 8
    }

    /// Multiplier of row `r`, group `g` of `data` (0 if not there).
    #[inline(always)]
    pub(crate) fn m(&self, data: &[u8], r: usize, g: usize) -> u8 {
        data.get(self.mult_at(r, g)).copied().unwrap_or(0)
    }

    /// `q · m` of row `r`, columns `32·g..32·g + 32` (0 where `data` is short): one group of a row at a time, for
    /// the embedding's lookups, rather than weight by weight.
    #[inline]
    pub(crate) fn group_qm(&self, data: &[u8], r: usize, g: usize) -> [i16; INT4_GROUP] {
        let (i, b) = (r % INT4_BLOCK, r / INT4_BLOCK);
        let shift = if i < 16 { 0 } else { 4 };
        let m = i16::from(self.m(data, r, g));
        let mut out = [0i16; INT4_GROUP];
        let lanes = data
            .get(self.group_at(b, g) + 4 * (i % 16)..)
            .unwrap_or(&[]);
        // Chunk k holds columns 4k..4k + 4 of the row in 4 consecutive bytes.
        for (cols, chunk) in out.chunks_exact_mut(4).zip(lanes.chunks(CHUNK_BYTES)) {
            for (o, &byte) in cols.iter_mut().zip(chunk) {
                *o = (i16::from((byte >> shift) & 0x0F) - 8) * m;
            }
        }
        out
    }

    /// Writes weight `q` (in `[-7, 7]`) of `(r, c)` into `data`.
    #[cfg(any(feature = "alloc", test))]
    pub(crate) fn set_q(&self, data: &mut [u8], r: usize, c: usize, q: i8) {
        let (at, shift) = self.nibble_at(r, c);
        if let Some(b) = data.get_mut(at) {
            *b = (*b & !(0x0F << shift)) | ((((q + 8) as u8) & 0x0F) << shift);
        }
    }

    /// An all-zero tensor's bytes: multipliers 0, every nibble 8 (`q = 0`).
    #[cfg(feature = "alloc")]
    pub(crate) fn zeros(&self) -> alloc::vec::Vec<u8> {
        let mut data = alloc::vec![0x88u8; self.len().unwrap_or(0)];
        for m in data.iter_mut().take(self.mult_len()) {
            *m = 0;
        }
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_weight_has_its_own_nibble() {
        // 40 rows (two blocks, the second padded), 40 columns (two groups, the second padded).
        let s = Int4Shape::new(40, 40);
        assert_eq!((s.blocks, s.groups, s.mult_len()), (2, 2, 128));
        assert_eq!(s.len(), Some(2 * 2 * (32 + 512)));
        let mut seen = std::collections::HashSet::new();
        for r in 0..64 {
            for c in 0..64 {
                let (at, shift) = s.nibble_at(r, c);
                assert!(at >= s.mult_len() && at < s.len().unwrap(), "({r}, {c})");
                assert!(seen.insert((at, shift)), "({r}, {c}) shares a nibble");
            }
        }
        // Rows r and r + 16 share a byte; a lane is 4 consecutive columns; chunks are 64 bytes apart.
        assert_eq!(s.nibble_at(3, 5), (s.mult_len() + 64 + 12 + 1, 0));
        assert_eq!(s.nibble_at(19, 5), (s.mult_len() + 64 + 12 + 1, 4));
        assert_eq!(s.nibble_at(32, 32).0, s.mult_len() + 3 * 512);
        assert_eq!((s.mult_at(33, 1), s.mult_at(2, 0)), (3 * 32 + 1, 2));
    }

    #[test]
    fn real_sizes_take_about_half_the_int8_bytes() {
        // The seed model's dense layer: 361 blocks (the last padded by 4 rows) of 5 groups (150 columns of 160).
        let s = Int4Shape::new(11_548, 150);
        assert_eq!(s.len(), Some(361 * 5 * 544));
        assert!(s.len().unwrap() * 100 < 11_548 * 150 * 57);
        // Sizes the layout fits exactly: 17 bytes per 32 weights.
        assert_eq!(Int4Shape::new(8192, 128).len(), Some(8192 * 128 * 17 / 32));
    }

    #[test]
    fn set_and_read_back() {
        let s = Int4Shape::new(33, 5);
        let mut data = vec![0x88u8; s.len().unwrap()];
        s.set_q(&mut data, 17, 4, -7);
        s.set_q(&mut data, 1, 4, 7);
        assert_eq!(
            (s.q(&data, 17, 4), s.q(&data, 1, 4), s.q(&data, 0, 0)),
            (-7, 7, 0)
        );
    }
}
