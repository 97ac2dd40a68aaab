-- Lists are ordered by name by default and often by -modified: with these indexes a page
-- is a walk of the index that stops after page_size rows instead of a sort of every match.
CREATE INDEX credentials_modified ON credentials (modified);
CREATE INDEX credentials_organization ON credentials (organization_id);
