-- Cotos of signed-in amishis. Anonymous cotos live in Redis.
CREATE TABLE cotos (
    id            uuid PRIMARY KEY,           -- UUIDv7: id order is posting order
    amishi_id     uuid NOT NULL,
    content       text NOT NULL,
    posted_in_key text,                       -- the cotonoma it was posted in; NULL is home
    cotonoma_key  text UNIQUE,                -- set when this coto stands for a cotonoma
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Keyset pagination of a home timeline and of a cotonoma's timeline.
CREATE INDEX cotos_by_amishi ON cotos (amishi_id, id DESC);
CREATE INDEX cotos_by_cotonoma ON cotos (posted_in_key, id DESC) WHERE posted_in_key IS NOT NULL;
