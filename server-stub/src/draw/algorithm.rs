//! The draw's algorithm, pure: no database, no clock, no randomness of its own (docs/draw.md
//! specifies every byte). The server's draw and `server-stub verify-draw` both run this code,
//! and verify-draw runs nothing else, so it needs no database.
//!
//! 1. The eligible numbers, ascending, give the canonical text (`1001\n1002\n…`, every number
//!    in decimal followed by one line feed) and its SHA-256, the *checksum*.
//! 2. The secret (32 bytes, drawn at `sales_closed`) was published as its SHA-256, the
//!    *commitment*.
//! 3. The *seed* is SHA-256(`rsu-draw-v1\n` ‖ secret ‖ checksum ‖ beacon as UTF-8).
//! 4. The *stream* is SHA-256(seed ‖ counter as 8 bytes big-endian) for counter 0, 1, 2, …,
//!    read as big-endian u64 values, four per block.
//! 5. Each winner is an index into the tickets not drawn yet, uniform by rejection sampling
//!    (a partial Fisher–Yates shuffle of the sorted list), prizes in (position, prize id) order.

use ring::digest::{self, Context, SHA256};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// The version of the algorithm and of the exported file.
pub const FORMAT: &str = "rsu-draw-v1";
/// What precedes the secret in the seed's hash input.
pub const SEED_CONTEXT: &[u8] = b"rsu-draw-v1\n";

/// Why the algorithm cannot run on its inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    #[error("the ticket numbers must be ascending, distinct and 1 or more: {0}")]
    BadTickets(String),
    #[error("{0}")]
    BadPrizes(String),
    #[error("{what} is not {len} bytes of lower-case hex")]
    BadHex { what: &'static str, len: usize },
    #[error("an amount overflowed: {0}")]
    Overflow(&'static str),
}

fn check_sorted(numbers: &[u32]) -> Result<(), DrawError> {
    if numbers.first() == Some(&0) {
        return Err(DrawError::BadTickets("0 is not a draw number".into()));
    }
    if let Some(i) = numbers.windows(2).position(|w| w[0] >= w[1]) {
        return Err(DrawError::BadTickets(format!(
            "{} is followed by {} at position {}",
            numbers[i],
            numbers[i + 1],
            i + 2
        )));
    }
    Ok(())
}

/// Appends `n` in decimal and a line feed.
fn push_line(buf: &mut Vec<u8>, mut n: u32) {
    let mut tmp = [0u8; 10];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
    buf.push(b'\n');
}

/// The canonical text of the eligible set: each number in decimal, no sign, no leading zero,
/// followed by one line feed (0x0A), ascending. The empty set is the empty text.
pub fn canonical_text(numbers: &[u32]) -> Result<String, DrawError> {
    check_sorted(numbers)?;
    let mut buf = Vec::with_capacity(numbers.len() * 8);
    for &n in numbers {
        push_line(&mut buf, n);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// SHA-256 of [`canonical_text`], hashed in chunks without building the whole text.
pub fn checksum(numbers: &[u32]) -> Result<[u8; 32], DrawError> {
    check_sorted(numbers)?;
    let mut ctx = Context::new(&SHA256);
    let mut buf = Vec::with_capacity(64 * 1024 + 16);
    for &n in numbers {
        push_line(&mut buf, n);
        if buf.len() >= 64 * 1024 {
            ctx.update(&buf);
            buf.clear();
        }
    }
    ctx.update(&buf);
    Ok(to32(ctx.finish().as_ref()))
}

fn to32(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(b);
    out
}

/// SHA-256 of the 32 secret bytes: published when the event enters `sales_closed`.
pub fn commitment(secret: &[u8; 32]) -> [u8; 32] {
    to32(digest::digest(&SHA256, secret).as_ref())
}

/// SHA-256(`rsu-draw-v1\n` ‖ secret ‖ checksum ‖ beacon): everything after the secret and
/// checksum is the beacon, so no separator is needed.
pub fn seed(secret: &[u8; 32], checksum: &[u8; 32], beacon: &str) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(SEED_CONTEXT);
    ctx.update(secret);
    ctx.update(checksum);
    ctx.update(beacon.as_bytes());
    to32(ctx.finish().as_ref())
}

/// A source of 64-bit values (the stream, or a fixed list in tests).
pub trait U64Source {
    fn next_u64(&mut self) -> u64;
}

/// SHA-256 in counter mode: block `i` is SHA-256(seed ‖ i as u64 big-endian), read as four
/// big-endian u64 values.
#[derive(Clone, Debug)]
pub struct Stream {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Stream {
    pub fn new(seed: [u8; 32]) -> Self {
        Stream {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }
}

impl U64Source for Stream {
    fn next_u64(&mut self) -> u64 {
        if self.used == 32 {
            let mut ctx = Context::new(&SHA256);
            ctx.update(&self.seed);
            ctx.update(&self.counter.to_be_bytes());
            self.block = to32(ctx.finish().as_ref());
            self.counter += 1;
            self.used = 0;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.block[self.used..self.used + 8]);
        self.used += 8;
        u64::from_be_bytes(b)
    }
}

/// A uniform value in `[0, n)`: values at or above the largest multiple of `n` that fits in
/// 2^64 are thrown away and the next one is read (rejection sampling), so every index has the
/// same chance. `n` must be at least 1.
pub fn uniform(src: &mut impl U64Source, n: u64) -> u64 {
    debug_assert!(n > 0);
    let n = n.max(1);
    // 2^64 mod n, computed without 128-bit arithmetic.
    let rem = n.wrapping_neg() % n;
    let limit = u64::MAX - rem; // values 0..=limit are an exact multiple of n in count
    loop {
        let v = src.next_u64();
        if v <= limit {
            return v % n;
        }
    }
}

/// A prize as configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Prize {
    pub prize_id: Uuid,
    pub name: String,
    pub position: i16,
    /// `fixed` or `percentage`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Minor units per winner (fixed prizes).
    pub value: Option<i64>,
    /// Basis points of net sales for the prize as a whole (percentage prizes; see [`prize_values`]).
    pub percentage_bp: Option<u32>,
    pub winner_count: u32,
    /// What each winner of this prize receives, minor units (computed by [`prize_values`]).
    pub value_per_winner: i64,
}

/// The event's jackpot rule (DESIGN §4) and the amount it gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Jackpot {
    pub seed_amount: i64,
    pub starting_amount: i64,
    pub percentage_bp: u32,
    pub amount: i64,
}

/// `max(seed, starting + floor(net × bp / 10000))`.
pub fn jackpot_amount(j: &Jackpot, net_sales: i64) -> Result<i64, DrawError> {
    let share = i128::from(net_sales) * i128::from(j.percentage_bp) / 10_000;
    let pot = i128::from(j.starting_amount) + share;
    let pot = i64::try_from(pot).map_err(|_| DrawError::Overflow("jackpot"))?;
    Ok(pot.max(j.seed_amount))
}

/// The value per winner of every prize, in order (docs/draw.md "Prize values").
///
/// A fixed prize pays its value to each winner. A percentage prize's `percentageBp` is its share
/// of the net sales. Without a jackpot rule it takes `floor(net × bp / 10000)`. With one, the
/// percentage prizes share the jackpot `J` (DESIGN §4, which may be more than the percentage of
/// net sales when the seed or starting amount applies) in the same proportions:
/// `floor(J × bp / jackpotBp)` (`floor(J × bp / 10000)` when jackpotBp is 0). Either way the
/// prize is split equally between its winners, rounding down: each gets
/// `floor(total / winnerCount)`; the remainders are not paid out by the draw.
pub fn prize_values(
    prizes: &[Prize],
    net_sales: i64,
    jackpot: Option<&Jackpot>,
) -> Result<Vec<i64>, DrawError> {
    if net_sales < 0 {
        return Err(DrawError::BadPrizes(format!(
            "net sales are negative ({net_sales})"
        )));
    }
    let (base, denominator) = match jackpot {
        Some(j) if j.percentage_bp > 0 => (jackpot_amount(j, net_sales)?, j.percentage_bp),
        Some(j) => (jackpot_amount(j, net_sales)?, 10_000),
        None => (net_sales, 10_000),
    };
    let total_bp: u64 = prizes
        .iter()
        .filter(|p| p.kind == "percentage")
        .filter_map(|p| p.percentage_bp)
        .map(u64::from)
        .sum();
    if total_bp > u64::from(denominator) {
        return Err(DrawError::BadPrizes(format!(
            "the percentage prizes add up to {total_bp} bp, more than the {denominator} bp the prize pool is made of"
        )));
    }
    prizes
        .iter()
        .map(|p| {
            if p.winner_count == 0 {
                return Err(DrawError::BadPrizes(format!(
                    "prize {:?} has no winner",
                    p.name
                )));
            }
            match (p.kind.as_str(), p.value, p.percentage_bp) {
                ("fixed", Some(v), _) if v >= 0 => Ok(v),
                ("percentage", _, Some(bp)) => {
                    let total = i128::from(base) * i128::from(bp) / i128::from(denominator);
                    let each = total / i128::from(p.winner_count);
                    i64::try_from(each).map_err(|_| DrawError::Overflow("prize value"))
                }
                _ => Err(DrawError::BadPrizes(format!(
                    "prize {:?} is neither a fixed prize with a value nor a percentage prize with percentageBp",
                    p.name
                ))),
            }
        })
        .collect()
}

/// Prizes in draw order: by position, then by prize id (lower-case hyphenated text order,
/// which for UUIDs is the byte order).
pub fn draw_order(prizes: &mut [Prize]) {
    prizes.sort_by_key(|p| (p.position, p.prize_id));
}

/// One winner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Winner {
    /// 1 for the first number drawn, 2 for the second, …
    pub pick: u32,
    pub prize_id: Uuid,
    pub position: i16,
    /// 1 … winnerCount within the prize.
    pub winner_index: u32,
    pub winning_number: u32,
    pub prize_value: i64,
}

/// Up to `count` distinct numbers of `numbers` (ascending), in pick order: pick `k` (0-based)
/// takes `j = k + uniform(n − k)` from the stream of `seed` and swaps positions `k` and `j` of
/// the (virtual) list, a partial Fisher–Yates shuffle. Fewer when the numbers run out.
pub fn pick_numbers(numbers: &[u32], seed: &[u8; 32], count: usize) -> Vec<u32> {
    let n = numbers.len();
    let mut stream = Stream::new(*seed);
    // Positions moved by the swaps: index → index of the number now there.
    let mut moved: HashMap<usize, usize> = HashMap::new();
    let mut out = Vec::with_capacity(count.min(n));
    for k in 0..count.min(n) {
        let j = k + uniform(&mut stream, (n - k) as u64) as usize;
        let at_j = *moved.get(&j).unwrap_or(&j);
        let at_k = *moved.get(&k).unwrap_or(&k);
        moved.insert(j, at_k);
        out.push(numbers[at_j]);
    }
    out
}

/// Draws every winner. `prizes` must be in [`draw_order`] with their values set; `numbers`
/// ascending. The picks of [`pick_numbers`] go to the prizes' places in order, so a ticket wins
/// at most once. When the tickets run out, the remaining places are not awarded.
pub fn select_winners(numbers: &[u32], seed: &[u8; 32], prizes: &[Prize]) -> Vec<Winner> {
    let places: Vec<(&Prize, u32)> = prizes
        .iter()
        .flat_map(|p| (1..=p.winner_count).map(move |w| (p, w)))
        .collect();
    let picks = pick_numbers(numbers, seed, places.len());
    places
        .iter()
        .zip(picks)
        .enumerate()
        .map(|(k, ((p, w), number))| Winner {
            pick: k as u32 + 1,
            prize_id: p.prize_id,
            position: p.position,
            winner_index: *w,
            winning_number: number,
            prize_value: p.value_per_winner,
        })
        .collect()
}

// ----------------------------------------------------------------------------------------------
// The exported file and its verification
// ----------------------------------------------------------------------------------------------

/// Everything needed to replay a draw (`admin draw-export`); docs/draw.md describes each field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrawFile {
    pub format: String,
    pub event_id: Uuid,
    pub event_identifier: String,
    pub event_name: String,
    pub currency: String,
    pub execution_id: Uuid,
    pub conducted_by: String,
    pub conducted_at: chrono::DateTime<chrono::Utc>,
    pub commitment: String,
    pub committed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub secret: String,
    pub beacon: Option<String>,
    pub ticket_count: u64,
    pub checksum: String,
    pub seed: String,
    pub net_sales: i64,
    pub jackpot: Option<Jackpot>,
    pub prizes: Vec<Prize>,
    pub results: Vec<Winner>,
    /// SHA-256 of the redraw secret, published with the draw (docs/draw.md "Redraw").
    #[serde(default)]
    pub redraw_commitment: Option<String>,
    /// The redraw of unclaimed prizes, if one was run (at most one).
    #[serde(default)]
    pub redraws: Vec<Redraw>,
    pub tickets: Vec<u32>,
}

/// One redraw execution, as exported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Redraw {
    pub execution_id: Uuid,
    pub conducted_by: String,
    pub conducted_at: chrono::DateTime<chrono::Utc>,
    pub reason: String,
    /// The revealed redraw secret (hex); its SHA-256 is the file's `redrawCommitment`.
    pub secret: String,
    pub beacon: Option<String>,
    /// Checksum of the remaining tickets (the eligible ones minus every winner of the draw).
    pub checksum: String,
    pub seed: String,
    /// The picks of the draw's results that were redrawn, ascending.
    pub replaced_picks: Vec<u32>,
    /// The new winners, one per replaced pick in that order (`pick` 1, 2, … within the redraw;
    /// prize, position, winner index and value of the place they replace).
    pub results: Vec<Winner>,
}

/// Decodes lower-case hex of exactly 32 bytes.
pub fn hex32(what: &'static str, s: &str) -> Result<[u8; 32], DrawError> {
    let bad = || DrawError::BadHex { what, len: 32 };
    if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad());
    }
    let v = hex::decode(s).map_err(|_| bad())?;
    Ok(to32(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<u64>, usize);
    impl U64Source for Fixed {
        fn next_u64(&mut self) -> u64 {
            self.1 += 1;
            self.0[self.1 - 1]
        }
    }

    #[test]
    fn values_in_the_incomplete_top_block_are_rejected_not_folded() {
        // n = 3: 2^64 mod 3 = 1, so only u64::MAX is outside the last complete block of three.
        let mut src = Fixed(vec![u64::MAX, u64::MAX, 7], 0);
        assert_eq!(uniform(&mut src, 3), 1);
        assert_eq!(src.1, 3, "two values rejected, the third used");
        // n = 2^63 + 1: everything from n·1 = 2^63 + 1 up is rejected.
        let n = (1u64 << 63) + 1;
        let mut src = Fixed(vec![1 << 63, (1 << 63) + 1, 5], 0);
        assert_eq!(uniform(&mut src, n), 1 << 63);
        let mut src = Fixed(vec![(1 << 63) + 1, u64::MAX, 5], 0);
        assert_eq!(uniform(&mut src, n), 5);
        assert_eq!(src.1, 3);
        // n = 1 never rejects.
        let mut src = Fixed(vec![u64::MAX], 0);
        assert_eq!(uniform(&mut src, 1), 0);
    }

    #[test]
    fn the_canonical_text_is_decimal_lines_and_refuses_unsorted_input() {
        assert_eq!(canonical_text(&[1, 20, 300]).unwrap(), "1\n20\n300\n");
        assert_eq!(canonical_text(&[]).unwrap(), "");
        assert_eq!(
            hex::encode(checksum(&[]).unwrap()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(checksum(&[2, 1]).is_err());
        assert!(checksum(&[1, 1]).is_err());
        assert!(checksum(&[0, 1]).is_err());
        let big: Vec<u32> = (1..200_000).collect();
        let text = canonical_text(&big).unwrap();
        assert_eq!(
            checksum(&big).unwrap(),
            to32(digest::digest(&SHA256, text.as_bytes()).as_ref())
        );
        assert_eq!(canonical_text(&[u32::MAX]).unwrap(), "4294967295\n");
    }
}
