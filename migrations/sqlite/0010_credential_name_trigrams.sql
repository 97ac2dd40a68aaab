-- Substring filters on credential names (`name__icontains` and the like) without reading
-- every row: an FTS5 trigram index of the name, kept by triggers. The index only narrows
-- the rows; the exact LIKE/GLOB condition still decides, so the filters keep their
-- meaning (store/sql.rs, `trigram_candidates`). Only names: a description is rewritten
-- far more often than a name, and every rewrite would re-index it. PostgreSQL has no
-- such index (pg_trgm needs a superuser to install).
CREATE VIRTUAL TABLE credentials_name_trigram USING fts5(
    name, content='credentials', content_rowid='id', tokenize='trigram'
);
INSERT INTO credentials_name_trigram(credentials_name_trigram) VALUES ('rebuild');
CREATE TRIGGER credentials_name_trigram_insert AFTER INSERT ON credentials BEGIN
    INSERT INTO credentials_name_trigram(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER credentials_name_trigram_delete AFTER DELETE ON credentials BEGIN
    INSERT INTO credentials_name_trigram(credentials_name_trigram, rowid, name)
        VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER credentials_name_trigram_update AFTER UPDATE OF name ON credentials BEGIN
    INSERT INTO credentials_name_trigram(credentials_name_trigram, rowid, name)
        VALUES ('delete', old.id, old.name);
    INSERT INTO credentials_name_trigram(rowid, name) VALUES (new.id, new.name);
END;
