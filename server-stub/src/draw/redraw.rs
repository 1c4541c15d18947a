//! The redraw of unclaimed prizes, pure (docs/draw.md "Redraw"): once the claim deadline has
//! passed, the places whose prize nobody claimed are drawn again, where the jurisdiction allows
//! it, from the tickets that have not won, with a second secret committed at the draw (so the
//! server could not know, when it committed, which places would go unclaimed) and a new beacon.

use super::algorithm::{checksum, commitment, hex32, pick_numbers, DrawFile, Winner};
use ring::digest::{Context, SHA256};

/// What precedes the redraw secret in the redraw seed's hash input.
pub const REDRAW_CONTEXT: &[u8] = b"rsu-redraw-v1\n";

/// SHA-256(`rsu-redraw-v1\n` ‖ redraw secret ‖ checksum of the remaining tickets ‖ beacon).
pub fn redraw_seed(secret: &[u8; 32], remaining_checksum: &[u8; 32], beacon: &str) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(REDRAW_CONTEXT);
    ctx.update(secret);
    ctx.update(remaining_checksum);
    ctx.update(beacon.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The eligible tickets that did not win in the draw, ascending.
pub fn remaining(tickets: &[u32], winners: &[Winner]) -> Vec<u32> {
    let won: std::collections::HashSet<u32> = winners.iter().map(|w| w.winning_number).collect();
    tickets
        .iter()
        .copied()
        .filter(|t| !won.contains(t))
        .collect()
}

/// The new winners for `replaced` (the draw's results being redrawn, in pick order).
pub fn select_replacements(remaining: &[u32], seed: &[u8; 32], replaced: &[Winner]) -> Vec<Winner> {
    let picks = pick_numbers(remaining, seed, replaced.len());
    replaced
        .iter()
        .zip(picks)
        .enumerate()
        .map(|(k, (old, number))| Winner {
            pick: k as u32 + 1,
            winning_number: number,
            ..old.clone()
        })
        .collect()
}

/// Every difference in the file's redraws.
pub fn verify_redraws(f: &DrawFile) -> Vec<String> {
    let mut diffs = Vec::new();
    if f.redraws.len() > 1 {
        diffs.push(format!(
            "redraws: {} listed, at most one is possible (one redraw secret)",
            f.redraws.len()
        ));
    }
    let Some(r) = f.redraws.first() else {
        return diffs;
    };
    let Some(published) = &f.redraw_commitment else {
        diffs.push("redraws: the file has no redrawCommitment to check the secret against".into());
        return diffs;
    };
    let secret = match hex32("redraw secret", &r.secret) {
        Ok(s) => s,
        Err(e) => {
            diffs.push(format!("redraws[0].secret: {e}"));
            return diffs;
        }
    };
    let c = hex::encode(commitment(&secret));
    if &c != published {
        diffs.push(format!(
            "redrawCommitment: the file says {published}, SHA-256 of the redraw secret is {c}"
        ));
    }
    let rest = remaining(&f.tickets, &f.results);
    let sum = match checksum(&rest) {
        Ok(s) => s,
        Err(e) => {
            diffs.push(format!("redraws[0]: {e}"));
            return diffs;
        }
    };
    if hex::encode(sum) != r.checksum {
        diffs.push(format!(
            "redraws[0].checksum: the file says {}, the remaining tickets give {}",
            r.checksum,
            hex::encode(sum)
        ));
    }
    let seed = redraw_seed(&secret, &sum, r.beacon.as_deref().unwrap_or(""));
    if hex::encode(seed) != r.seed {
        diffs.push(format!(
            "redraws[0].seed: the file says {}, the redraw secret, checksum and beacon give {}",
            r.seed,
            hex::encode(seed)
        ));
    }
    let mut replaced = Vec::new();
    for p in &r.replaced_picks {
        match f.results.iter().find(|w| w.pick == *p) {
            Some(w) => replaced.push(w.clone()),
            None => diffs.push(format!(
                "redraws[0].replacedPicks: the draw has no pick {p}"
            )),
        }
    }
    let want = select_replacements(&rest, &seed, &replaced);
    if want != r.results {
        diffs.push(format!(
            "redraws[0].results: the file says numbers {:?}, the replay gives {:?}",
            r.results
                .iter()
                .map(|w| w.winning_number)
                .collect::<Vec<_>>(),
            want.iter().map(|w| w.winning_number).collect::<Vec<_>>()
        ));
    }
    diffs
}
