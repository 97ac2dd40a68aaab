-- The activity stream: who changed what, when. Each entry carries a SHA-256 over its own
-- content and the previous entry's hash, so editing, removing or reordering rows breaks
-- the chain (`credstore audit verify`). Entries keep a snapshot of their actor and are not
-- tied to objects by foreign keys: they outlive what they describe.
CREATE TABLE activity_stream (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp          TEXT NOT NULL,
    actor_id           INTEGER,
    actor_snapshot     TEXT,
    operation          TEXT NOT NULL,
    object1            TEXT NOT NULL,
    object2            TEXT NOT NULL DEFAULT '',
    object_association TEXT NOT NULL DEFAULT '',
    object_type        TEXT NOT NULL DEFAULT '',
    changes            TEXT NOT NULL,
    objects            TEXT NOT NULL DEFAULT '[]',
    prev_hash          TEXT NOT NULL,
    hash               TEXT NOT NULL
);

-- Which objects an entry concerns, for the per-object lists and for visibility.
CREATE TABLE activity_stream_objects (
    entry_id     INTEGER NOT NULL REFERENCES activity_stream(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    object_id    INTEGER NOT NULL,
    PRIMARY KEY (entry_id, content_type, object_id)
);
CREATE INDEX activity_stream_objects_object ON activity_stream_objects (content_type, object_id);
