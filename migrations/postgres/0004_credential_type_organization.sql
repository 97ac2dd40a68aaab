-- A custom credential type may belong to an organization (a credstore extension of AWX's
-- model): NULL keeps AWX's global, superuser-managed type. An organization's types go with
-- it (the service refuses when a credential outside it still uses one).
ALTER TABLE credential_types ADD COLUMN organization_id BIGINT REFERENCES organizations(id) ON DELETE CASCADE;
CREATE INDEX credential_types_organization ON credential_types (organization_id);
