-- One row: a random token every change to reference data (SKUs, locations,
-- promotions, tax rates) replaces in its own transaction. Each instance
-- keeps that data in memory while the token is the one it read it under.
CREATE TABLE reference_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token TEXT NOT NULL
);
INSERT INTO reference_version (id, token) VALUES (1, 'initial');
