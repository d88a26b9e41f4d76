-- Authors of cotos as their access tokens last described them: a read model
-- kept here so a timeline shows whose each coto is without asking auth.
CREATE TABLE authors (
    amishi_id    uuid PRIMARY KEY,
    display_name text NOT NULL,
    avatar_url   text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Every coto has its author recorded. Nothing wrote to cotos before this
-- release; NOT VALID still spares a scan of the table under lock.
ALTER TABLE cotos ADD CONSTRAINT cotos_author FOREIGN KEY (amishi_id) REFERENCES authors (amishi_id) NOT VALID;
