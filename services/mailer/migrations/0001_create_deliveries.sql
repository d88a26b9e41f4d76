-- The delivery log: one row per mail job, written after each attempt.
-- The mail queue itself is the Redis stream `mail`; this is the durable
-- record of what became of each job.
CREATE TABLE deliveries (
    -- The job's id (its Redis stream entry id). A job is acknowledged only
    -- after SMTP accepted it, so it can be read again after a crash; a 'sent'
    -- row here is what keeps it from being mailed twice.
    job_id     text PRIMARY KEY,
    -- Not checked against a list: a job of a kind this mailer cannot render
    -- is still logged, as 'dead'.
    kind       text NOT NULL,
    recipient  text NOT NULL,
    -- sent: the SMTP server accepted it; failed: the last attempt failed and
    -- it will be retried; dead: given up on, moved to the dead-letter stream.
    status     text NOT NULL
               CONSTRAINT deliveries_status_known CHECK (status IN ('sent', 'failed', 'dead')),
    attempts   integer NOT NULL DEFAULT 1
               CONSTRAINT deliveries_attempts_positive CHECK (attempts >= 1),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    CONSTRAINT deliveries_sent_at_iff_sent CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT deliveries_failure_has_error CHECK (status = 'sent' OR last_error IS NOT NULL)
);

-- "What became of the mail to this address?", newest first.
CREATE INDEX deliveries_by_recipient ON deliveries (recipient, created_at DESC);
