-- Tables keyed by their own columns are stored WITHOUT ROWID: a row then lives once, in
-- its primary key's B-tree, instead of in a rowid table plus a copy in the key's index.
-- Each credential create writes about twenty such rows (roles' edges and ancestors, its
-- secret, its activity links), all inside the writer slot (docs/performance.md).
--
-- The ancestor table is recomputed from the edges instead of copied: until this release a
-- credential or team moved out of an organization kept ancestor rows of the old one,
-- and with them its admins' and auditors' access.

-- A prefix of roles_object_field_unique, which serves the same lookups.
DROP INDEX roles_object;

CREATE TABLE role_ancestors_new (
    role_id     INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    ancestor_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, ancestor_id)
) WITHOUT ROWID;
INSERT INTO role_ancestors_new (role_id, ancestor_id)
WITH RECURSIVE anc(role_id, ancestor_id) AS (
    SELECT id, id FROM roles
    UNION
    SELECT a.role_id, rp.parent_id FROM anc a JOIN role_parents rp ON rp.role_id = a.ancestor_id
)
SELECT role_id, ancestor_id FROM anc;
DROP TABLE role_ancestors;
ALTER TABLE role_ancestors_new RENAME TO role_ancestors;
CREATE INDEX role_ancestors_ancestor ON role_ancestors (ancestor_id, role_id);

CREATE TABLE role_parents_new (
    role_id   INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    parent_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, parent_id)
) WITHOUT ROWID;
INSERT INTO role_parents_new (role_id, parent_id) SELECT role_id, parent_id FROM role_parents;
DROP TABLE role_parents;
ALTER TABLE role_parents_new RENAME TO role_parents;
CREATE INDEX role_parents_parent ON role_parents (parent_id);

CREATE TABLE role_members_new (
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, user_id)
) WITHOUT ROWID;
INSERT INTO role_members_new (role_id, user_id) SELECT role_id, user_id FROM role_members;
DROP TABLE role_members;
ALTER TABLE role_members_new RENAME TO role_members;
CREATE INDEX role_members_user ON role_members (user_id);

CREATE TABLE credential_secrets_new (
    credential_id INTEGER NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    field         TEXT NOT NULL,
    key_version   INTEGER NOT NULL,
    ciphertext    BLOB NOT NULL,
    PRIMARY KEY (credential_id, field)
) WITHOUT ROWID;
INSERT INTO credential_secrets_new (credential_id, field, key_version, ciphertext)
    SELECT credential_id, field, key_version, ciphertext FROM credential_secrets;
DROP TABLE credential_secrets;
ALTER TABLE credential_secrets_new RENAME TO credential_secrets;
CREATE INDEX credential_secrets_key_version ON credential_secrets (key_version);

CREATE TABLE activity_stream_objects_new (
    entry_id     INTEGER NOT NULL REFERENCES activity_stream(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    object_id    INTEGER NOT NULL,
    PRIMARY KEY (entry_id, content_type, object_id)
) WITHOUT ROWID;
INSERT INTO activity_stream_objects_new (entry_id, content_type, object_id)
    SELECT entry_id, content_type, object_id FROM activity_stream_objects;
DROP TABLE activity_stream_objects;
ALTER TABLE activity_stream_objects_new RENAME TO activity_stream_objects;
CREATE INDEX activity_stream_objects_object ON activity_stream_objects (content_type, object_id);
