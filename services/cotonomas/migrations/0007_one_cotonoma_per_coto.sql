-- migrate: no transaction
-- A coto becomes one cotonoma at most, however often the request is repeated
-- (or sent twice at once). Built CONCURRENTLY (an index left invalid by a
-- failed run is made again).
DROP INDEX CONCURRENTLY IF EXISTS cotonomas_from_coto;
CREATE UNIQUE INDEX CONCURRENTLY cotonomas_from_coto ON cotonomas (from_coto) WHERE from_coto IS NOT NULL;
