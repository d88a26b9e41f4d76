-- Search's plan for a text depends on how often the planner expects it in
-- content, which it reads off the column's histogram: with the default 100
-- entries, one entry matching a three-letter text made it expect 1 % (a
-- text in 1 coto of 2,000), walk the author's whole timeline filtering, and
-- take 180 ms instead of 4 at a million cotos (BENCHMARKS.md, issue 15). With
-- 1,000 entries the estimate is ten times finer. ANALYZE then samples
-- 300,000 rows: about 2 s at a million cotos, in autovacuum. A SHARE UPDATE
-- EXCLUSIVE lock: reads and writes go on.
ALTER TABLE cotos ALTER COLUMN content SET STATISTICS 1000;
