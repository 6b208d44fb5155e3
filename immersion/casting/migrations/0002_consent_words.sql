-- Version 2: consent given on the actor's page. The director proposes a use of the takes (and
-- an end); the actor agrees to it or writes their own words, which go in consent and
-- consent_until (consent_until still drives purge_expired). consent_at: when the actor agreed
-- (UTC; NULL: not on the page, e.g. `serve --consent`); consent_version: the consent screen's
-- version they read.
ALTER TABLE auditions ADD COLUMN proposed TEXT NOT NULL DEFAULT '';
ALTER TABLE auditions ADD COLUMN proposed_until TEXT;
ALTER TABLE auditions ADD COLUMN consent_at TEXT;
ALTER TABLE auditions ADD COLUMN consent_version INTEGER;
