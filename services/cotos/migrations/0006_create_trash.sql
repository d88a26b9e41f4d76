-- The trash: a coto deleted by its author, or removed by the owner of the
-- cotonoma it was posted in (moderated), is moved here whole and may be
-- restored by its author, keeping its id (so its place in every timeline),
-- for 30 days; then it is purged (cotos/trash.py). A table of its own rather
-- than a flag on cotos: every read of cotos, and every index they go along,
-- stays as it was (docs/decisions.md, D91). A new table: no lock on cotos.
CREATE TABLE trashed_cotos (
    id            uuid PRIMARY KEY,
    amishi_id     uuid NOT NULL,
    content       text NOT NULL,
    posted_in_key text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz NOT NULL DEFAULT now(),
    -- Removed by the cotonoma's owner: that removal sticks (not restorable).
    moderated     boolean NOT NULL DEFAULT false
);

-- What the purge looks for, oldest first.
CREATE INDEX trashed_cotos_by_age ON trashed_cotos (deleted_at);
-- What goes with a cotonoma when it is deleted.
CREATE INDEX trashed_cotos_by_cotonoma ON trashed_cotos (posted_in_key) WHERE posted_in_key IS NOT NULL;
