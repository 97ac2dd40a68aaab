-- Substring filters on credential names (`name__icontains` and the like) without reading
-- every row: the trigrams of each name, ASCII-lowercased as the "C" collation's ILIKE
-- folds case, kept by a trigger. The trigrams only narrow the rows; the exact LIKE/ILIKE
-- condition still decides (store/sql.rs, `trigram_candidates`). pg_trgm would do this,
-- but installing an extension takes a superuser, which a credstore deployment's database
-- role need not be.
CREATE TABLE credential_name_trigrams (
    trigram       TEXT COLLATE "C" NOT NULL,
    credential_id BIGINT NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    PRIMARY KEY (trigram, credential_id)
);
CREATE INDEX credential_name_trigrams_credential ON credential_name_trigrams (credential_id);

CREATE FUNCTION credential_name_trigrams_of(name TEXT) RETURNS SETOF TEXT
LANGUAGE SQL IMMUTABLE AS $$
    SELECT DISTINCT substr(lower(name COLLATE "C"), i, 3)
    FROM generate_series(1, char_length(name) - 2) AS i
$$;

CREATE FUNCTION credential_name_trigrams_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.name IS NOT DISTINCT FROM OLD.name THEN
            RETURN NEW;
        END IF;
        DELETE FROM credential_name_trigrams WHERE credential_id = OLD.id;
    END IF;
    INSERT INTO credential_name_trigrams (trigram, credential_id)
        SELECT t, NEW.id FROM credential_name_trigrams_of(NEW.name) AS t;
    RETURN NEW;
END
$$;

CREATE TRIGGER credential_name_trigrams_keep AFTER INSERT OR UPDATE OF name ON credentials
    FOR EACH ROW EXECUTE FUNCTION credential_name_trigrams_keep();

INSERT INTO credential_name_trigrams (trigram, credential_id)
    SELECT t, c.id FROM credentials c, credential_name_trigrams_of(c.name) AS t;
