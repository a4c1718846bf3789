//! Block locators: which heights a `getheaders` names so that a peer on another branch finds
//! the fork point in one round trip.

/// Heights one by one from the tip before the steps start doubling.
const DENSE_HEIGHTS: usize = 10;

/// The heights of a block locator for a chain whose tip is at `tip_height`, highest first:
/// the last 10 blocks one by one, then steps of 2, 4, 8, ... blocks, always ending at
/// genesis (0). That is at most 10 + 33 heights, well under
/// [`MAX_LOCATOR_HASHES`](crate::message::MAX_LOCATOR_HASHES).
pub fn locator_heights(tip_height: u32) -> Vec<u32> {
    let mut heights = Vec::with_capacity(DENSE_HEIGHTS + 33);
    let mut height = tip_height;
    let mut step = 1u32;
    loop {
        heights.push(height);
        if height == 0 {
            return heights;
        }
        if heights.len() >= DENSE_HEIGHTS {
            step = step.saturating_mul(2);
        }
        height = height.saturating_sub(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MAX_LOCATOR_HASHES;
    use proptest::prelude::*;

    #[test]
    fn short_chains_list_every_height() {
        assert_eq!(locator_heights(0), [0]);
        assert_eq!(locator_heights(5), [5, 4, 3, 2, 1, 0]);
        assert_eq!(locator_heights(9), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    }

    #[test]
    fn steps_double_after_ten_and_end_at_genesis() {
        assert_eq!(
            locator_heights(100),
            [100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 89, 85, 77, 61, 29, 0]
        );
        let longest = locator_heights(u32::MAX);
        assert!(longest.len() <= MAX_LOCATOR_HASHES, "{}", longest.len());
        assert_eq!(longest.last(), Some(&0));
    }

    proptest! {
        #[test]
        fn locator_shape(tip in any::<u32>()) {
            let h = locator_heights(tip);
            prop_assert_eq!(h[0], tip);
            prop_assert_eq!(*h.last().expect("never empty"), 0);
            prop_assert!(h.len() <= MAX_LOCATOR_HASHES);
            let gaps: Vec<u64> = h.windows(2).map(|w| u64::from(w[0] - w[1])).collect();
            for (i, &gap) in gaps.iter().enumerate() {
                let full_step = if i < DENSE_HEIGHTS - 1 { 1 } else { 1u64 << (i + 2 - DENSE_HEIGHTS) };
                if i + 1 == gaps.len() {
                    prop_assert!(gap >= 1 && gap <= full_step, "last gap {} > {}", gap, full_step);
                } else {
                    prop_assert_eq!(gap, full_step, "gap {} of {:?}", i, &h);
                }
            }
        }
    }
}
