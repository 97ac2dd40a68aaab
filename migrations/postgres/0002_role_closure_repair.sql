-- Until this release a credential or team moved out of an organization kept ancestor rows
-- of the old one, and with them its admins' and auditors' access: recompute the closure
-- from the edges.
DELETE FROM role_ancestors;
INSERT INTO role_ancestors (role_id, ancestor_id)
WITH RECURSIVE anc(role_id, ancestor_id) AS (
    SELECT id, id FROM roles
    UNION
    SELECT a.role_id, rp.parent_id FROM anc a JOIN role_parents rp ON rp.role_id = a.ancestor_id
)
SELECT role_id, ancestor_id FROM anc;

-- A prefix of roles_object_field_unique, which serves the same lookups.
DROP INDEX roles_object;
