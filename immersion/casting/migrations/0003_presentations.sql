-- The casting record, version 2: presentations, chosen takes shown to people outside the room
-- (producers, clients) through a link of their own. Only a hash of the link's token is kept:
-- the record (a backup, a copied file) never holds a working link. Times are UTC ISO 8601.

CREATE TABLE presentations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    created TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    expires TEXT NOT NULL,
    revoked TEXT,
    show_notes INTEGER NOT NULL DEFAULT 0 CHECK (show_notes IN (0, 1))
);

-- The takes it shows, in the director's order; a take deleted leaves its presentations.
CREATE TABLE presentation_takes (
    presentation_id INTEGER NOT NULL REFERENCES presentations (id) ON DELETE CASCADE,
    take_id INTEGER NOT NULL REFERENCES takes (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (presentation_id, take_id),
    UNIQUE (presentation_id, position)
);
CREATE INDEX presentation_takes_by_take ON presentation_takes (take_id);

-- Who watched which take of a presentation, and when (the name a viewer gave: not checked).
CREATE TABLE views (
    id INTEGER PRIMARY KEY,
    presentation_id INTEGER NOT NULL REFERENCES presentations (id) ON DELETE CASCADE,
    take_id INTEGER NOT NULL REFERENCES takes (id) ON DELETE CASCADE,
    viewer TEXT NOT NULL CHECK (length(viewer) BETWEEN 1 AND 200),
    at TEXT NOT NULL
);
CREATE INDEX views_by_take ON views (take_id);
CREATE INDEX views_by_presentation ON views (presentation_id);
