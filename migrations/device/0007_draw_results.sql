-- The draw results the server publishes in the configuration (issue 12 item 6), kept so the kiosk
-- shows the final jackpot and the winning numbers and checks tickets with no network; and the
-- printer's last reported condition (issue 13 item 3), which rsu-syncd sends in its heartbeat.

-- One row per drawn event: the draw's figures. Replaced whole by each configuration that carries
-- the event's results.
CREATE TABLE event_results (
    event_id          TEXT PRIMARY KEY REFERENCES events(id),
    drawn_at          TEXT NOT NULL,
    -- The jackpot at the draw, minor units of the event currency; NULL without a jackpot rule.
    final_jackpot     INTEGER,
    net_sales         INTEGER NOT NULL,
    ticket_count      INTEGER NOT NULL,
    -- When this device received these results (the configuration version applied then).
    received_at       TEXT NOT NULL,
    config_version    INTEGER NOT NULL
);

-- Every awarded place and its current winner (a redraw replaces a place's winner on the server;
-- the device only ever holds the latest).
CREATE TABLE draw_winners (
    event_id          TEXT NOT NULL REFERENCES event_results(event_id),
    position          INTEGER NOT NULL,
    winner_index      INTEGER NOT NULL,
    prize_name        TEXT NOT NULL,
    prize_value       INTEGER NOT NULL CHECK (prize_value >= 0),
    draw_number       INTEGER NOT NULL,
    -- Canonical form (upper case, as rsu_core::validation prints it): the ticket check looks
    -- numbers up by it.
    validation_number TEXT NOT NULL,
    redrawn           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, position, winner_index)
);
CREATE INDEX draw_winners_by_validation_number ON draw_winners (validation_number);

-- The printer's condition as the kiosk last learned it from a print job's DLE EOT answers or its
-- failure: one word of rsu_core::printer_status (ok, paper_low, paper_out, cover_open, offline,
-- error, unknown). One row; absent until the first print.
CREATE TABLE printer_status (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    status            TEXT NOT NULL,
    -- The printer's or the kiosk's sentence, for people (not sent to the server).
    detail            TEXT,
    recorded_at       TEXT NOT NULL
);
