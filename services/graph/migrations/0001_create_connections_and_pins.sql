-- Connections between cotos: directed, from start to end, with an optional
-- linking phrase; `order` places it among its start's outgoing connections.
-- Cotos are the cotos service's: only their ids are kept here.
CREATE TABLE connections (
    id             uuid PRIMARY KEY,
    start_id       uuid NOT NULL,
    end_id         uuid NOT NULL,
    linking_phrase text
                   CONSTRAINT connections_linking_phrase_length CHECK (char_length(linking_phrase) BETWEEN 1 AND 200),
    created_by     uuid NOT NULL,
    -- The cotonoma it was made in (its members see it); NULL: at home (its maker alone sees it).
    created_in     text COLLATE "C",
    "order"        integer NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT connections_not_to_itself CHECK (start_id <> end_id),
    -- One connection per (start, end), as in the original Cotoami.
    CONSTRAINT connections_once UNIQUE (start_id, end_id)
);

-- A coto's outgoing connections in their order (the traversals walk it).
CREATE INDEX connections_by_start ON connections (start_id, "order", id);
-- A coto's incoming connections.
CREATE INDEX connections_by_end ON connections (end_id);
-- A person's connections, oldest first (the archive's export).
CREATE INDEX connections_by_maker ON connections (created_by, created_at, id);

-- Pins: cotos pinned to a person's home (cotonoma_key NULL, theirs alone) or
-- to a cotonoma (its members'). One pin per coto in each place.
CREATE TABLE pins (
    coto_id      uuid NOT NULL,
    cotonoma_key text COLLATE "C",
    created_by   uuid NOT NULL,
    -- Where it is pinned: 'home:' and the maker's id, or 'cotonoma:' and the key.
    place        text COLLATE "C" NOT NULL GENERATED ALWAYS AS (
                     CASE WHEN cotonoma_key IS NULL THEN 'home:' || created_by::text
                          ELSE 'cotonoma:' || cotonoma_key END) STORED,
    "order"      integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place, coto_id)
);

-- The pins of a place in their order.
CREATE INDEX pins_by_place ON pins (place, "order", coto_id);
-- A deleted coto's pins.
CREATE INDEX pins_by_coto ON pins (coto_id);
-- A person's pins, oldest first (the archive's export).
CREATE INDEX pins_by_maker ON pins (created_by, created_at, place, coto_id);

-- The event streams graph reads coto-deleted from: the home stream of the
-- author of every coto it has held (events:amishi:{id}), each read by the
-- consumer group `graph` from the moment it was first watched.
CREATE TABLE watched_streams (
    stream     text COLLATE "C" PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);
