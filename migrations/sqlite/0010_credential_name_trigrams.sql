-- Substring filters on credential names and descriptions (`name__icontains`, `search=`)
-- without reading every row: an FTS5 trigram index of both columns, kept by triggers.
-- The index only narrows the rows; the exact LIKE/GLOB condition still decides, so the
-- filters keep their meaning (store/sql.rs, `trigram_candidates`). PostgreSQL has no
-- such index (pg_trgm needs a superuser to install).
CREATE VIRTUAL TABLE credentials_text_trigram USING fts5(
    name, description, content='credentials', content_rowid='id', tokenize='trigram'
);
INSERT INTO credentials_text_trigram(credentials_text_trigram) VALUES ('rebuild');
CREATE TRIGGER credentials_text_trigram_insert AFTER INSERT ON credentials BEGIN
    INSERT INTO credentials_text_trigram(rowid, name, description)
        VALUES (new.id, new.name, new.description);
END;
CREATE TRIGGER credentials_text_trigram_delete AFTER DELETE ON credentials BEGIN
    INSERT INTO credentials_text_trigram(credentials_text_trigram, rowid, name, description)
        VALUES ('delete', old.id, old.name, old.description);
END;
CREATE TRIGGER credentials_text_trigram_update AFTER UPDATE OF name, description ON credentials BEGIN
    INSERT INTO credentials_text_trigram(credentials_text_trigram, rowid, name, description)
        VALUES ('delete', old.id, old.name, old.description);
    INSERT INTO credentials_text_trigram(rowid, name, description)
        VALUES (new.id, new.name, new.description);
END;
