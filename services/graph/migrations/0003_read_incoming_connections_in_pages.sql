-- migrate: no transaction
-- A coto's incoming connections come in pages, oldest first: this index gives
-- them in that order from any cursor, so a page reads its own rows and no
-- more (by end alone, a hub's every connection was read and sorted). It leads
-- with end_id, so it serves what connections_by_end served. Built
-- CONCURRENTLY, so connections go on being made while it is built (an index
-- left invalid by a failed run is made again).
DROP INDEX CONCURRENTLY IF EXISTS connections_by_end_time;
CREATE INDEX CONCURRENTLY connections_by_end_time ON connections (end_id, created_at, id);
DROP INDEX CONCURRENTLY IF EXISTS connections_by_end;
