-- API tokens and login sessions. Only SHA-256 digests of the bearer values are stored:
-- a database dump does not let anyone authenticate.

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    scope       TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    expires     TEXT NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE sessions (
    session_hash BLOB PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created      TEXT NOT NULL,
    expires      TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
