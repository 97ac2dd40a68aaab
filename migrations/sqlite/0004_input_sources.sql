-- Input sources: one input field of a (non-external) target credential is fetched through
-- an external lookup credential. Both ends cascade: deleting either credential removes
-- the link, as in AWX.
CREATE TABLE credential_input_sources (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    target_credential_id INTEGER NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    source_credential_id INTEGER NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    input_field_name     TEXT NOT NULL,
    metadata             TEXT NOT NULL DEFAULT '{}',
    description          TEXT NOT NULL DEFAULT '',
    created              TEXT NOT NULL,
    modified             TEXT NOT NULL,
    created_by           INTEGER REFERENCES users(id) ON DELETE SET NULL,
    modified_by          INTEGER REFERENCES users(id) ON DELETE SET NULL,
    CONSTRAINT credential_input_sources_target_field_unique UNIQUE (target_credential_id, input_field_name)
);
CREATE INDEX credential_input_sources_source ON credential_input_sources (source_credential_id);
