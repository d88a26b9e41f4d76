-- A coto posted in a cotonoma needs the coto standing for that cotonoma, so
-- that a cotonoma's coto (and with it the cotonoma, which the cotonomas
-- service deletes only once this one is gone) cannot be deleted while
-- anything is posted in it, and nothing can be posted in, restored to or
-- made under a cotonoma being deleted: the key lock a post takes and the
-- delete's check see each other, whatever the timing (D92). NOT VALID: rows
-- written before are not checked, so this takes no scan under the lock.
ALTER TABLE cotos ADD CONSTRAINT cotos_posted_in_cotonoma
    FOREIGN KEY (posted_in_key) REFERENCES cotos (cotonoma_key) NOT VALID;
