-- Domain events of graph (connection..., pin...), each written in
-- the transaction of its change and deleted once the relay has appended it to
-- its Redis streams (cotoami_common.outbox).
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    -- What the relay's once-per-stream mark names: unlike id, never drawn twice,
    -- even by a database restored from a backup or made anew.
    event_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    streams    text[] NOT NULL,
    event      text NOT NULL,
    data       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
