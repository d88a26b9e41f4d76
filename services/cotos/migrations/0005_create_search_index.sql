-- migrate: no transaction
-- Search (GET /api/search): a coto whose content contains a text, in any
-- script, among those one may read (one's own, and those posted in the
-- cotonomas one may enter). One GIN index answers both halves of that: the
-- content's trigrams (pg_trgm; ILIKE '%text%' of three or more letters) with
-- the author and the cotonoma beside them (btree_gin), so a search of one's
-- own cotos reads only one's matches, never everyone's. Trigrams are made of what the
-- database's LC_CTYPE counts as letters: C.UTF-8 (or any UTF-8 locale) counts
-- Japanese; plain C does not (tests/test_search.py checks).
-- Built CONCURRENTLY, so posts go on while it is built (a rollout, not a pause).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;
DROP INDEX CONCURRENTLY IF EXISTS cotos_search;
CREATE INDEX CONCURRENTLY cotos_search ON cotos USING gin (amishi_id, posted_in_key, content gin_trgm_ops);
