-- Amishis: the people who sign in. An amishi is known by an email address;
-- the id is what every other service stores (it is the access token's sub).
CREATE TABLE amishis (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Stored lower-cased and trimmed, so one address is one amishi however it
    -- is typed, and lookups compare the stored value as it is.
    email        text NOT NULL
                 CONSTRAINT amishis_email_normalized CHECK (email = lower(btrim(email)))
                 CONSTRAINT amishis_email_length CHECK (char_length(email) BETWEEN 3 AND 254)
                 CONSTRAINT amishis_email_key UNIQUE,
    display_name text NOT NULL
                 CONSTRAINT amishis_display_name_length CHECK (char_length(btrim(display_name)) BETWEEN 1 AND 100),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Sign-in links. Only the SHA-256 of the 256-bit token is kept, so a leaked
-- table signs no one in. A token is single use (used_at) and short-lived
-- (expires_at). The email need not belong to an amishi yet: the first sign-in
-- creates the amishi.
CREATE TABLE signin_tokens (
    token_hash     bytea PRIMARY KEY
                   CONSTRAINT signin_tokens_hash_length CHECK (octet_length(token_hash) = 32),
    email          text NOT NULL
                   CONSTRAINT signin_tokens_email_normalized CHECK (email = lower(btrim(email))),
    -- The anonymous id of the browser that asked, so that its cotos can be
    -- saved into the account even when the link is opened on another device.
    anonymous_id   text
                   CONSTRAINT signin_tokens_anonymous_id_format CHECK (anonymous_id ~ '^[0-9a-f]{32}$'),
    save_anonymous boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    CONSTRAINT signin_tokens_expire_after_creation CHECK (expires_at > created_at)
);

-- Expired tokens are of no use to anyone; this lets them be purged.
CREATE INDEX signin_tokens_by_expiry ON signin_tokens (expires_at);

-- Refresh tokens: opaque, only their SHA-256 kept. A session is one sign-in;
-- its refresh token rotates on every use (rotated_at), and all tokens of a
-- session share session_id, so a rotated token that comes back (a sign of
-- theft) or a sign-out revokes the whole session at once.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY
               CONSTRAINT refresh_tokens_hash_length CHECK (octet_length(token_hash) = 32),
    amishi_id  uuid NOT NULL REFERENCES amishis (id) ON DELETE CASCADE,
    session_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz,
    revoked_at timestamptz,
    CONSTRAINT refresh_tokens_expire_after_creation CHECK (expires_at > created_at)
);

-- An amishi's sessions: to revoke them all, and for the cascade above.
CREATE INDEX refresh_tokens_by_amishi ON refresh_tokens (amishi_id);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
-- Expired tokens are of no use to anyone; this lets them be purged.
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

-- "Save the anonymous cotos": written in the same transaction as the sign-in,
-- then handed to the cotos service and retried until it says done, so the
-- cotos move exactly once even if a service dies in between.
CREATE TABLE anonymous_claims (
    anonymous_id text PRIMARY KEY
                 CONSTRAINT anonymous_claims_id_format CHECK (anonymous_id ~ '^[0-9a-f]{32}$'),
    amishi_id    uuid NOT NULL REFERENCES amishis (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz
);

CREATE INDEX anonymous_claims_pending ON anonymous_claims (amishi_id) WHERE done_at IS NULL;
