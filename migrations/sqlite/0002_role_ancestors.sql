-- Effective permissions as a table: the closure of the role graph. A user holds role R
-- exactly when they are a direct member of some ancestor of R (every role is its own
-- ancestor), so "may this user read that credential" is one indexed join
-- role_members ⋈ role_ancestors, and list visibility is decided inside SQL.
-- Maintained in the same transaction as every edge change (store::roles).

-- The two system singleton roles of AWX, shown by /api/v2/roles/.
INSERT INTO roles (role_field, content_type, object_id) VALUES ('system_administrator', NULL, NULL);
INSERT INTO roles (role_field, content_type, object_id) VALUES ('system_auditor', NULL, NULL);

CREATE TABLE role_ancestors (
    role_id     INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    ancestor_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, ancestor_id)
);
CREATE INDEX role_ancestors_ancestor ON role_ancestors (ancestor_id, role_id);

INSERT INTO role_ancestors (role_id, ancestor_id)
WITH RECURSIVE anc(role_id, ancestor_id) AS (
    SELECT id, id FROM roles
    UNION
    SELECT a.role_id, rp.parent_id FROM anc a JOIN role_parents rp ON rp.role_id = a.ancestor_id
)
SELECT role_id, ancestor_id FROM anc;

CREATE INDEX roles_object ON roles (content_type, object_id);
