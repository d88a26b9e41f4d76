-- A cotonoma being deleted is 'deleting' (committed before the cotos service
-- is asked to delete its coto): invisible to every query and access check,
-- finished or put back by the reconciler if the request that began it could
-- not. NOT VALID: the rows there are all 'creating' or 'ready', and no scan
-- runs under the table's lock; 0005 validates it.
ALTER TABLE cotonomas DROP CONSTRAINT cotonomas_state,
    ADD CONSTRAINT cotonomas_state CHECK (state IN ('creating', 'ready', 'deleting')) NOT VALID;
