-- Amishis as their access tokens last described them: a read model kept here
-- so a cotonoma shows its owner without asking auth.
CREATE TABLE amishis (
    id           uuid PRIMARY KEY,                  -- issued by auth
    email        text NOT NULL,
    display_name text NOT NULL,
    avatar_url   text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Cotonomas: named places for cotos, owned by one amishi, nested under an
-- optional parent. The key is random and URL-safe: it appears in URLs and in
-- the cotos service's posted_in_key, and reveals neither order nor count.
-- Keys compare byte by byte (COLLATE "C"): they break ties in list order, and
-- a cursor must order them as every reader does.
CREATE TABLE cotonomas (
    key        text COLLATE "C" PRIMARY KEY
               CONSTRAINT cotonomas_key_format CHECK (key ~ '^[A-Za-z0-9_-]{8,64}$'),
    name       text NOT NULL
               CONSTRAINT cotonomas_name_length CHECK (char_length(name) BETWEEN 1 AND 50),
    owner_id   uuid NOT NULL REFERENCES amishis (id),
    -- NULL is a top-level cotonoma. Deleting a cotonoma that has children is
    -- refused (the default NO ACTION) rather than orphaning or cascading them.
    -- Set only at creation, to a cotonoma that exists: so no cycle can form.
    parent_key text COLLATE "C" REFERENCES cotonomas (key),
    -- 'creating' until the cotos service holds the cotonoma's coto; such a row
    -- is invisible to every query and access check, and a row stuck there is
    -- undone by the reconciler. The default keeps a row nobody finished hidden.
    state      text NOT NULL DEFAULT 'creating'
               CONSTRAINT cotonomas_state CHECK (state IN ('creating', 'ready')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cotonomas_not_own_parent CHECK (parent_key <> key)
);

-- An owner names each cotonoma once per parent (top level counts as one
-- parent: keys are never empty, so '' stands for none). Rows still being
-- created count too, so two requests racing for one name cannot both win.
CREATE UNIQUE INDEX cotonomas_name_per_parent ON cotonomas (owner_id, coalesce(parent_key, ''), name);
-- "The cotonomas I own", newest first, paged by (created_at, key).
CREATE INDEX cotonomas_by_owner ON cotonomas (owner_id, created_at DESC, key DESC);
-- The children of a cotonoma.
CREATE INDEX cotonomas_by_parent ON cotonomas (parent_key) WHERE parent_key IS NOT NULL;
-- What the reconciler looks for.
CREATE INDEX cotonomas_creating ON cotonomas (created_at) WHERE state = 'creating';

-- Members: the people a cotonoma is shared with, and so (with its owner) who
-- may read it and its descendants. A member is added by email address, before
-- that person need have an account, and is recognised by the address their
-- access token carries.
CREATE TABLE members (
    cotonoma_key text COLLATE "C" NOT NULL REFERENCES cotonomas (key) ON DELETE CASCADE,
    email        text NOT NULL
                 CONSTRAINT members_email_normalized CHECK (email = lower(btrim(email))),
    added_by     uuid NOT NULL,                     -- the amishi who added them (the owner)
    added_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cotonoma_key, email)
);

-- "The cotonomas shared with me", and access checks by address.
CREATE INDEX members_by_email ON members (email);
