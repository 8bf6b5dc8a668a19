-- auditalert (issue 13): where alerts go, and each alert's delivery to each
-- destination (so a retry re-sends only to the destinations that failed).
CREATE TABLE alert_destinations (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT NOT NULL,
    config   TEXT NOT NULL,
    added_at TEXT NOT NULL
);

CREATE TABLE alert_deliveries (
    alert_id       INTEGER NOT NULL REFERENCES alert_outbox (id) ON DELETE CASCADE,
    destination_id INTEGER NOT NULL REFERENCES alert_destinations (id) ON DELETE CASCADE,
    state          TEXT NOT NULL,
    attempts       INTEGER NOT NULL,
    last_error     TEXT,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (alert_id, destination_id)
);
