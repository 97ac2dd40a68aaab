-- The Galaxy credentials an organization uses to install collections and roles, in the
-- order they are tried (AWX keeps the order of attachment).
CREATE TABLE organization_galaxy_credentials (
    organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    credential_id   INTEGER NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    PRIMARY KEY (organization_id, credential_id)
);
CREATE INDEX organization_galaxy_credentials_credential ON organization_galaxy_credentials (credential_id);
