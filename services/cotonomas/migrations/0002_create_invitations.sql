-- Invitations: when an invitation was last mailed to an address for a
-- cotonoma. Re-adding the address within the quiet period mails it nothing,
-- so removing and adding it again in a loop sends one mail, not one a turn.
-- Kept when the member is removed: that is when it is needed.
CREATE TABLE invitations (
    cotonoma_key text COLLATE "C" NOT NULL REFERENCES cotonomas (key) ON DELETE CASCADE,
    email        text NOT NULL
                 CONSTRAINT invitations_email_normalized CHECK (email = lower(btrim(email))),
    mailed_at    timestamptz NOT NULL,
    PRIMARY KEY (cotonoma_key, email)
);
