-- migrate: no transaction
-- Validating takes a lock that lets reads and writes go on.
ALTER TABLE cotonomas VALIDATE CONSTRAINT cotonomas_state;
-- What the reconciler looks for, as cotonomas_creating for creations. Built
-- CONCURRENTLY (an index left invalid by a failed run is made again).
DROP INDEX CONCURRENTLY IF EXISTS cotonomas_deleting;
CREATE INDEX CONCURRENTLY cotonomas_deleting ON cotonomas (updated_at) WHERE state = 'deleting';
