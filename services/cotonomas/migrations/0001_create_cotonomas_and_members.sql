-- Cotonomas: named places for cotos, owned by one amishi, nested under an
-- optional parent. The key is random and URL-safe: it appears in URLs and in
-- the cotos service's posted_in_key, and reveals neither order nor count.
CREATE TABLE cotonomas (
    key        text PRIMARY KEY
               CONSTRAINT cotonomas_key_format CHECK (key ~ '^[A-Za-z0-9_-]{8,64}$'),
    name       text NOT NULL
               CONSTRAINT cotonomas_name_length CHECK (char_length(name) BETWEEN 1 AND 50),
    owner_id   uuid NOT NULL,                       -- an amishi id, issued by auth
    -- NULL is a top-level cotonoma. Deleting a cotonoma that has children is
    -- refused (the default NO ACTION) rather than orphaning or cascading them.
    parent_key text REFERENCES cotonomas (key),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cotonomas_not_own_parent CHECK (parent_key <> key)
);

-- An owner names each cotonoma once per parent (top level counts as one
-- parent: keys are never empty, so '' stands for none). Led by owner_id, it
-- also serves "the cotonomas I own".
CREATE UNIQUE INDEX cotonomas_name_per_parent ON cotonomas (owner_id, coalesce(parent_key, ''), name);
-- The children of a cotonoma.
CREATE INDEX cotonomas_by_parent ON cotonomas (parent_key) WHERE parent_key IS NOT NULL;

-- Members: the people a cotonoma is shared with, and so (with its owner) who
-- may read it and its descendants. A member is added by email address, before
-- that person need have an account; amishi_id is filled in when they sign in.
CREATE TABLE members (
    cotonoma_key text NOT NULL REFERENCES cotonomas (key) ON DELETE CASCADE,
    email        text NOT NULL
                 CONSTRAINT members_email_normalized CHECK (email = lower(btrim(email))),
    amishi_id    uuid,
    added_by     uuid NOT NULL,                     -- the amishi who added them (the owner)
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cotonoma_key, email)
);

-- Filling in amishi_id for a newly signed-in address.
CREATE INDEX members_by_email ON members (email);
-- "The cotonomas shared with me".
CREATE INDEX members_by_amishi ON members (amishi_id) WHERE amishi_id IS NOT NULL;
