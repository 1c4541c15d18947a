//! Draw numbers and allocated ranges, and the compressed display used on receipts (`1001–1005`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// One draw number of an event. Draw numbers start at 1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DrawNumber(pub i64);

impl fmt::Display for DrawNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("draw range {start}..{end} is empty or reversed: the start must not exceed the end")]
    Reversed { start: i64, end: i64 },
    #[error("draw range starts at {0}: draw numbers start at 1")]
    NotPositive(i64),
}

/// An inclusive range of draw numbers `[start, end]`, never empty.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "RawRange", into = "RawRange")]
pub struct DrawRange {
    start: i64,
    end: i64,
}

#[derive(Serialize, Deserialize)]
struct RawRange {
    start: i64,
    end: i64,
}

impl TryFrom<RawRange> for DrawRange {
    type Error = RangeError;
    fn try_from(r: RawRange) -> Result<Self, Self::Error> {
        DrawRange::new(r.start, r.end)
    }
}

impl From<DrawRange> for RawRange {
    fn from(r: DrawRange) -> Self {
        RawRange {
            start: r.start,
            end: r.end,
        }
    }
}

impl DrawRange {
    pub fn new(start: i64, end: i64) -> Result<Self, RangeError> {
        if start < 1 {
            return Err(RangeError::NotPositive(start));
        }
        if start > end {
            return Err(RangeError::Reversed { start, end });
        }
        Ok(DrawRange { start, end })
    }
    pub fn start(&self) -> i64 {
        self.start
    }
    pub fn end(&self) -> i64 {
        self.end
    }
    /// How many numbers the range holds.
    pub fn len(&self) -> i64 {
        self.end - self.start + 1
    }
    /// A range is never empty; present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn contains(&self, n: DrawNumber) -> bool {
        self.start <= n.0 && n.0 <= self.end
    }
    pub fn overlaps(&self, other: &DrawRange) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

impl fmt::Display for DrawRange {
    /// `1001–1005`, or `1001` for a single number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}\u{2013}{}", self.start, self.end)
        }
    }
}

/// Compresses draw numbers into sorted, maximal consecutive ranges.
/// Duplicates are collapsed; the input need not be sorted.
pub fn compress(numbers: &[DrawNumber]) -> Vec<DrawRange> {
    let mut sorted: Vec<i64> = numbers.iter().map(|n| n.0).filter(|n| *n >= 1).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut iter = sorted.into_iter();
    let Some(first) = iter.next() else {
        return out;
    };
    let (mut start, mut end) = (first, first);
    for n in iter {
        if n == end + 1 {
            end = n;
        } else {
            out.push(DrawRange { start, end });
            start = n;
            end = n;
        }
    }
    out.push(DrawRange { start, end });
    out
}

/// The compressed ranges as text, e.g. `1001–1005, 1101–1102`.
pub fn compress_display(numbers: &[DrawNumber]) -> String {
    compress(numbers)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nums(v: &[i64]) -> Vec<DrawNumber> {
        v.iter().copied().map(DrawNumber).collect()
    }

    #[test]
    fn consecutive_numbers_compress_into_one_range() {
        assert_eq!(
            compress_display(&nums(&[1001, 1002, 1003, 1004, 1005])),
            "1001–1005"
        );
    }

    #[test]
    fn a_sale_spanning_two_allocations_shows_two_ranges() {
        assert_eq!(
            compress_display(&nums(&[1099, 1100, 1201, 1202, 1203])),
            "1099–1100, 1201–1203"
        );
    }

    #[test]
    fn single_numbers_and_unsorted_input_are_handled() {
        assert_eq!(compress_display(&nums(&[7, 3, 4, 9, 4])), "3–4, 7, 9");
        assert_eq!(compress_display(&[]), "");
    }

    #[test]
    fn a_reversed_or_non_positive_range_is_refused() {
        assert!(DrawRange::new(10, 9).is_err());
        assert!(DrawRange::new(0, 9).is_err());
        assert!(serde_json::from_str::<DrawRange>(r#"{"start":5,"end":1}"#).is_err());
        let r = DrawRange::new(1001, 1100).unwrap();
        assert_eq!(r.len(), 100);
        assert!(r.contains(DrawNumber(1100)) && !r.contains(DrawNumber(1101)));
        assert!(r.overlaps(&DrawRange::new(1100, 1200).unwrap()));
        assert!(!r.overlaps(&DrawRange::new(1101, 1200).unwrap()));
    }
}
