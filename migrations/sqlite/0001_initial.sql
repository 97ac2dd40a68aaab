-- The initial schema. Secrets never live in `credentials.inputs`: that column holds the
-- public values and a "$encrypted$" marker per secret; the AEAD ciphertexts live in
-- `credential_secrets`, bound to the credential's `uid` and the field name.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    username          TEXT NOT NULL UNIQUE,
    first_name        TEXT NOT NULL DEFAULT '',
    last_name         TEXT NOT NULL DEFAULT '',
    email             TEXT NOT NULL DEFAULT '',
    password_hash     TEXT NOT NULL,
    is_superuser      INTEGER NOT NULL DEFAULT 0,
    is_system_auditor INTEGER NOT NULL DEFAULT 0,
    created           TEXT NOT NULL,
    modified          TEXT,
    last_login        TEXT
);

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    modified_by INTEGER REFERENCES users(id) ON DELETE SET NULL
);

CREATE TABLE teams (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    created         TEXT NOT NULL,
    modified        TEXT NOT NULL,
    created_by      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    modified_by     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    CONSTRAINT teams_org_name_unique UNIQUE (organization_id, name)
);

CREATE TABLE credential_types (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    namespace   TEXT,
    managed     INTEGER NOT NULL DEFAULT 0,
    inputs      TEXT NOT NULL DEFAULT '{}',
    injectors   TEXT NOT NULL DEFAULT '{}',
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    modified_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    CONSTRAINT credential_types_name_kind_unique UNIQUE (name, kind)
);

CREATE TABLE credentials (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    uid                TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    organization_id    INTEGER REFERENCES organizations(id) ON DELETE CASCADE,
    credential_type_id INTEGER NOT NULL REFERENCES credential_types(id) ON DELETE RESTRICT,
    managed            INTEGER NOT NULL DEFAULT 0,
    inputs             TEXT NOT NULL DEFAULT '{}',
    created            TEXT NOT NULL,
    modified           TEXT NOT NULL,
    created_by         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    modified_by        INTEGER REFERENCES users(id) ON DELETE SET NULL
);
-- AWX: unique on (organization, name, credential_type); personal credentials are exempt.
CREATE UNIQUE INDEX credentials_org_name_type_unique
    ON credentials (organization_id, name, credential_type_id) WHERE organization_id IS NOT NULL;
CREATE INDEX credentials_name ON credentials (name);
CREATE INDEX credentials_type ON credentials (credential_type_id);

CREATE TABLE credential_secrets (
    credential_id INTEGER NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    field         TEXT NOT NULL,
    key_version   INTEGER NOT NULL,
    ciphertext    BLOB NOT NULL,
    PRIMARY KEY (credential_id, field)
);
CREATE INDEX credential_secrets_key_version ON credential_secrets (key_version);

-- AWX's role graph. A role belongs to an object (content_type, object_id) or is a system
-- singleton (both NULL). A user holds a role when they are a member of it or of any of
-- its ancestors (role_parents walks from a role to the roles that imply it).
CREATE TABLE roles (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    role_field   TEXT NOT NULL,
    content_type TEXT,
    object_id    INTEGER,
    CONSTRAINT roles_object_field_unique UNIQUE (content_type, object_id, role_field)
);

CREATE TABLE role_parents (
    role_id   INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    parent_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, parent_id)
);
CREATE INDEX role_parents_parent ON role_parents (parent_id);

CREATE TABLE role_members (
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, user_id)
);
CREATE INDEX role_members_user ON role_members (user_id);
