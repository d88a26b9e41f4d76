-- Each Idempotency-Key a signed-in amishi sent with POST /api/cotos: a retry
-- with the same key finds the coto the first request made instead of making
-- another. A new table, so no lock is taken on cotos. Rows older than a day
-- are removed as their amishi posts again (store.py).
CREATE TABLE idempotency_keys (
    amishi_id   uuid NOT NULL,
    key         text NOT NULL,
    fingerprint text NOT NULL,               -- of the request's content and cotonoma
    coto_id     uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (amishi_id, key)
);
