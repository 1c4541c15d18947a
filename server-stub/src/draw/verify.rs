//! `verify-draw`: every value of an exported draw file recomputed from its tickets, secret and
//! beacon (the draw and the redraw), with every difference named. Pure, no database.

use super::algorithm::*;
use super::redraw::verify_redraws;

/// Re-computes everything in the file from the tickets, the secret and the beacon; returns
/// every difference found (empty: the draw is valid).
pub fn verify(f: &DrawFile) -> Vec<String> {
    let mut diffs = Vec::new();
    if f.format != FORMAT {
        diffs.push(format!(
            "format: the file says {:?}, this verifier knows {FORMAT:?}",
            f.format
        ));
        return diffs;
    }
    if f.ticket_count != f.tickets.len() as u64 {
        diffs.push(format!(
            "ticketCount: the file says {}, it lists {} tickets",
            f.ticket_count,
            f.tickets.len()
        ));
    }
    let sum = match checksum(&f.tickets) {
        Ok(c) => c,
        Err(e) => {
            diffs.push(format!("tickets: {e}"));
            return diffs;
        }
    };
    if hex::encode(sum) != f.checksum {
        diffs.push(format!(
            "checksum: the file says {}, the tickets give {}",
            f.checksum,
            hex::encode(sum)
        ));
    }
    let secret = match hex32("secret", &f.secret) {
        Ok(s) => s,
        Err(e) => {
            diffs.push(format!("secret: {e}"));
            return diffs;
        }
    };
    let c = hex::encode(commitment(&secret));
    if c != f.commitment {
        diffs.push(format!(
            "commitment: the file says {}, SHA-256 of the secret is {c}",
            f.commitment
        ));
    }
    let s = seed(&secret, &sum, f.beacon.as_deref().unwrap_or(""));
    if hex::encode(s) != f.seed {
        diffs.push(format!(
            "seed: the file says {}, the secret, checksum and beacon give {}",
            f.seed,
            hex::encode(s)
        ));
    }
    if let Some(j) = &f.jackpot {
        match jackpot_amount(j, f.net_sales) {
            Ok(a) if a != j.amount => diffs.push(format!(
                "jackpot.amount: the file says {}, the rule and net sales {} give {a}",
                j.amount, f.net_sales
            )),
            Ok(_) => {}
            Err(e) => diffs.push(format!("jackpot: {e}")),
        }
    }
    let mut prizes = f.prizes.clone();
    draw_order(&mut prizes);
    if prizes != f.prizes {
        diffs.push("prizes: not listed in draw order (position, then prize id)".into());
    }
    match prize_values(&prizes, f.net_sales, f.jackpot.as_ref()) {
        Ok(values) => {
            for (p, v) in prizes.iter_mut().zip(values) {
                if p.value_per_winner != v {
                    diffs.push(format!(
                        "prize {:?} (position {}): the file says {} per winner, the rules give {v}",
                        p.name, p.position, p.value_per_winner
                    ));
                }
                p.value_per_winner = v;
            }
        }
        Err(e) => diffs.push(format!("prizes: {e}")),
    }
    let replay = select_winners(&f.tickets, &s, &prizes);
    if replay.len() != f.results.len() {
        diffs.push(format!(
            "results: the file lists {} winners, the replay draws {}",
            f.results.len(),
            replay.len()
        ));
    }
    diffs.extend(verify_redraws(f));
    for (i, (got, want)) in f.results.iter().zip(replay.iter()).enumerate() {
        if got != want {
            diffs.push(format!(
                "results[{i}] (pick {}): the file says number {} for prize {} winner {} worth {}, the replay gives number {} for prize {} winner {} worth {}",
                want.pick,
                got.winning_number,
                got.prize_id,
                got.winner_index,
                got.prize_value,
                want.winning_number,
                want.prize_id,
                want.winner_index,
                want.prize_value
            ));
        }
    }
    diffs
}
