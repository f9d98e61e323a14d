//! CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), the checksum of `zlib` and PNG.

// reason: const evaluation; an out-of-range index would fail the build, not run.
#[allow(clippy::indexing_slicing)]
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 of `bytes`.
///
/// ```
/// assert_eq!(quill_core::crc32(b"123456789"), 0xCBF4_3926);
/// ```
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        // reason: the index is masked to 0..=255 and the table has 256 entries.
        #[allow(clippy::indexing_slicing)]
        let t = TABLE[((c ^ u32::from(b)) & 0xFF) as usize];
        c = t ^ (c >> 8);
    }
    !c
}
