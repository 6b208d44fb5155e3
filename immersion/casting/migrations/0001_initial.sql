-- The casting record, version 1. Names are unique in their scope; a parent's rows go with it.
-- Dates are ISO 8601 text (YYYY-MM-DD), times UTC ISO 8601 text.

CREATE TABLE productions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    created TEXT NOT NULL
);

CREATE TABLE roles (
    id INTEGER PRIMARY KEY,
    production_id INTEGER NOT NULL REFERENCES productions (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    pack TEXT NOT NULL,
    avatar TEXT NOT NULL,
    sides TEXT NOT NULL DEFAULT '',
    UNIQUE (production_id, name)
);
CREATE INDEX roles_by_name ON roles (name);

-- Name, contact, agent: nothing more unless a field is asked for.
CREATE TABLE actors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    contact TEXT NOT NULL DEFAULT '',
    agent TEXT NOT NULL DEFAULT ''
);

-- One actor reading for one role on one day; consent is the actor's own words for the use
-- of the takes, and the day after which they must go (NULL: until deleted).
CREATE TABLE auditions (
    id INTEGER PRIMARY KEY,
    actor_id INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    date TEXT NOT NULL,
    consent TEXT NOT NULL DEFAULT '',
    consent_until TEXT,
    UNIQUE (actor_id, role_id, date)
);
CREATE INDEX auditions_by_role ON auditions (role_id);
CREATE INDEX auditions_by_expiry ON auditions (consent_until) WHERE consent_until IS NOT NULL;

-- File names are inside the takes folder; the take file itself holds the performance.
CREATE TABLE takes (
    id INTEGER PRIMARY KEY,
    audition_id INTEGER NOT NULL REFERENCES auditions (id) ON DELETE CASCADE,
    file TEXT NOT NULL UNIQUE,
    duration REAL,
    voice TEXT,
    talkback TEXT,
    rolled_by TEXT NOT NULL DEFAULT '',
    filed TEXT NOT NULL
);
CREATE INDEX takes_by_audition ON takes (audition_id);

CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    take_id INTEGER NOT NULL REFERENCES takes (id) ON DELETE CASCADE,
    t REAL NOT NULL,
    text TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('note', 'marker'))
);
CREATE INDEX notes_by_take ON notes (take_id);

-- One rating per take and person.
CREATE TABLE ratings (
    take_id INTEGER NOT NULL REFERENCES takes (id) ON DELETE CASCADE,
    by TEXT NOT NULL CHECK (length(by) >= 1),
    value INTEGER NOT NULL CHECK (value BETWEEN 1 AND 5),
    PRIMARY KEY (take_id, by)
);

-- Numbered per role, as casting offices do (#1 is the first choice); a take is selected once.
CREATE TABLE selects (
    role_id INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    take_id INTEGER NOT NULL UNIQUE REFERENCES takes (id) ON DELETE CASCADE,
    number INTEGER NOT NULL CHECK (number >= 1),
    PRIMARY KEY (role_id, number)
);
