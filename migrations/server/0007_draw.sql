-- The draw and the claims (issue 12, docs/draw.md): a committed secret per event, the draw's
-- inputs and outputs as anyone needs them to replay it, claims by validation number or signed
-- receipt, and the attempts a rate limit counts.
--
-- Admin "who" is a name given by the person, as in 0006: the UUID columns of seed 000
-- (`conducted_by`, `claimed_by`) become nullable and a `*_name` column holds the name.

-- The secret drawn when the event entered sales_closed. Only its commitment (SHA-256 of the 32
-- secret bytes) is published until the draw reveals the secret. One per event, never replaced.
CREATE TABLE event_draw_seeds (
    event_id         UUID PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
    secret           BYTEA NOT NULL CHECK (length(secret) = 32),
    commitment       BYTEA NOT NULL CHECK (length(commitment) = 32),
    committed_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- Set by the draw: from then on the secret is public (draw-export prints it).
    revealed_at      TIMESTAMPTZ,
    -- A second secret drawn at the draw for the redraw of unclaimed prizes; its commitment is
    -- published with the draw, the secret revealed by the redraw (docs/draw.md "Redraw").
    redraw_secret    BYTEA CHECK (redraw_secret IS NULL OR length(redraw_secret) = 32),
    redraw_commitment BYTEA CHECK (redraw_commitment IS NULL OR length(redraw_commitment) = 32)
);

-- An execution is a draw (one per event) or a redraw of an unclaimed prize (with its reason).
ALTER TABLE draw_executions ALTER COLUMN conducted_by DROP NOT NULL;
ALTER TABLE draw_executions
    ADD COLUMN kind             TEXT NOT NULL DEFAULT 'draw' CHECK (kind IN ('draw', 'redraw')),
    ADD COLUMN reason           TEXT,
    ADD COLUMN conducted_by_name TEXT,
    ADD COLUMN completed_at     TIMESTAMPTZ,
    -- The draw's inputs: hex of the commitment, the revealed secret and the checksum
    -- (system_checksum); rng_seed holds the hex of the derived seed.
    ADD COLUMN commitment       TEXT,
    ADD COLUMN secret           TEXT,
    ADD COLUMN beacon           TEXT,
    ADD COLUMN ticket_count     BIGINT CHECK (ticket_count IS NULL OR ticket_count >= 0),
    ADD COLUMN net_sales        BIGINT,
    -- The jackpot rule and amount at the draw ({seedAmount, startingAmount, percentageBp, amount}).
    ADD COLUMN jackpot          JSONB,
    -- The prizes in draw order with their value per winner, as verify-draw reads them.
    ADD COLUMN prizes           JSONB,
    ADD CONSTRAINT draw_executions_redraw_reason CHECK (kind = 'draw' OR btrim(coalesce(reason, '')) <> '');
-- A second draw of an event is refused by the code and, should two run at once, by this index.
CREATE UNIQUE INDEX draw_executions_one_draw_per_event ON draw_executions (event_id) WHERE kind = 'draw';
-- One redraw per event (one redraw secret).
CREATE UNIQUE INDEX draw_executions_one_redraw_per_event ON draw_executions (event_id) WHERE kind = 'redraw';

ALTER TABLE draw_results
    ADD COLUMN pick          INTEGER,          -- 1 for the first number drawn, 2 for the next, …
    ADD COLUMN winner_index  INTEGER,          -- 1 … winner_count within the prize
    -- The redraw execution that replaced this result (its prize went unclaimed): no longer claimable.
    ADD COLUMN superseded_by UUID REFERENCES draw_executions(id);
-- A ticket wins at most once per execution.
CREATE UNIQUE INDEX draw_results_ticket_once ON draw_results (draw_execution_id, winning_ticket_id);

ALTER TABLE prize_claims ALTER COLUMN claimed_by DROP NOT NULL;
ALTER TABLE prize_claims
    ADD COLUMN verified_by_name  TEXT,
    ADD COLUMN order_id          UUID REFERENCES orders(id),
    ADD COLUMN validation_number TEXT,
    -- For receipt_signature: the QR text that was checked.
    ADD COLUMN receipt_qr        TEXT,
    -- Why a claim past the claim deadline was accepted (NULL: it was within the deadline).
    ADD COLUMN deadline_override TEXT,
    ADD CONSTRAINT prize_claims_method CHECK (verification_method IN ('validation_number', 'receipt_signature'));
-- A prize is claimed once.
CREATE UNIQUE INDEX prize_claims_once ON prize_claims (draw_result_id);

-- Every claim attempt that was refused for a wrong number (malformed, bad tag, unknown, bad
-- signature): the rate limit counts them per person and in total over the last minute.
CREATE TABLE claim_attempts (
    id               BIGSERIAL PRIMARY KEY,
    attempted_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    attempted_by     TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    input            TEXT NOT NULL
);
CREATE INDEX idx_claim_attempts_time ON claim_attempts (attempted_at);
