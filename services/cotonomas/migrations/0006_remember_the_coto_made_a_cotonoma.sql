-- Cotonomatize: the coto a cotonoma was made from (its coto, keeping its id),
-- NULL for one created by name. An undone creation must give that coto back
-- rather than delete it. A new nullable column without a default: no rewrite.
ALTER TABLE cotonomas ADD COLUMN from_coto uuid;
