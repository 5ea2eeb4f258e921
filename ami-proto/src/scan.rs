//! The decoder's structural scan: where the LFs and the colons are in a
//! 64-byte block, as two bitmasks (bit `i` set: byte `i` is that byte).
//!
//! The decoder walks the set bits to cut lines, instead of searching
//! byte by byte (or calling a search function per line).
//!
//! With the `simd` feature on x86_64 the masks come from SSE2 (four
//! 16-byte compares per byte looked for, through `safe_arch`'s safe
//! wrappers); otherwise from a portable SWAR version over eight `u64`
//! words. Both give the same masks (tested).

/// Bytes covered by one pair of masks.
pub(crate) const BLOCK: usize = 64;

/// The LF mask and the colon mask of `block`.
#[cfg(all(feature = "simd", target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
pub(crate) fn block_masks(block: &[u8; BLOCK]) -> (u64, u64) {
    use safe_arch::{
        cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    let lf = set_splat_i8_m128i(b'\n' as i8);
    let colon = set_splat_i8_m128i(b':' as i8);
    let mut lfs = 0u64;
    let mut colons = 0u64;
    let (lanes, _) = block.as_chunks::<16>();
    for (i, lane) in lanes.iter().enumerate() {
        let v = load_unaligned_m128i(lane);
        // `move_mask` sets only the low 16 bits.
        let l = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, lf)) as u32 as u64;
        let c = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, colon)) as u32 as u64;
        lfs |= l << (16 * i);
        colons |= c << (16 * i);
    }
    (lfs, colons)
}

/// The LF mask and the colon mask of `block`.
#[cfg(not(all(feature = "simd", target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
pub(crate) fn block_masks(block: &[u8; BLOCK]) -> (u64, u64) {
    swar_masks(block)
}

/// One bit per byte of `word` (little-endian): set where the byte is
/// zero. Exact (no false positive from borrows).
#[inline(always)]
fn zero_bits(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte set iff the byte is non-zero.
    let nonzero = ((word & LOW7).wrapping_add(LOW7) | word) & HIGH;
    let zero = (nonzero ^ HIGH) >> 7;
    // Gathers bit 8·i to bit 56 + i: the partial products land on
    // distinct bits below 56 or above 63, so nothing carries into the byte.
    zero.wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The portable version of [`block_masks`].
#[cfg_attr(
    all(feature = "simd", target_arch = "x86_64", target_feature = "sse2"),
    allow(dead_code)
)]
#[inline(always)]
pub(crate) fn swar_masks(block: &[u8; BLOCK]) -> (u64, u64) {
    const LF: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    const COLON: u64 = 0x3a3a_3a3a_3a3a_3a3a;
    let mut lfs = 0u64;
    let mut colons = 0u64;
    let (words, _) = block.as_chunks::<8>();
    for (i, w) in words.iter().enumerate() {
        let w = u64::from_le_bytes(*w);
        lfs |= zero_bits(w ^ LF) << (8 * i);
        colons |= zero_bits(w ^ COLON) << (8 * i);
    }
    (lfs, colons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(block: &[u8; BLOCK]) -> (u64, u64) {
        let mut lfs = 0u64;
        let mut colons = 0u64;
        for (i, &b) in block.iter().enumerate() {
            lfs |= u64::from(b == b'\n') << i;
            colons |= u64::from(b == b':') << i;
        }
        (lfs, colons)
    }

    #[test]
    fn every_byte_value_in_every_position() {
        for pos in 0..BLOCK {
            for value in 0..=255u8 {
                // Neighbours that make borrows and carries likely.
                let mut block = [value.wrapping_add(1); BLOCK];
                block[pos] = value;
                if pos > 0 {
                    block[pos - 1] = b'\n';
                }
                assert_eq!(block_masks(&block), reference(&block), "{pos} {value}");
                assert_eq!(swar_masks(&block), reference(&block), "{pos} {value}");
            }
        }
    }

    proptest! {
        #[test]
        fn masks_match_a_byte_loop(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b':'), Just(b'\r'), Just(b';'), Just(0u8), Just(0x0b), any::<u8>()],
                BLOCK,
            )
        ) {
            let block: [u8; BLOCK] = bytes.try_into().unwrap();
            prop_assert_eq!(block_masks(&block), reference(&block));
            prop_assert_eq!(swar_masks(&block), reference(&block));
        }
    }
}
