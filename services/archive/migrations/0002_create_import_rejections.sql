-- What an import job rejected, a row per item as it is met, written with the
-- checkpoint of its step: the job's result gathers them once it is done (and
-- they go). A checkpoint stays small however much is rejected (100,000 cotos
-- of someone else's: every one), and what depends on a rejected coto or
-- cotonoma is found here when a job is taken up again. A new table.
CREATE TABLE import_rejections (
    job_id       uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    part         text NOT NULL CONSTRAINT import_rejections_part CHECK (part IN ('cotos', 'connections')),
    -- {json, reason}: the item as the file had it (cut short) and why.
    item         jsonb NOT NULL,
    coto_id      uuid,        -- the coto (as imported) that was not, if it was one
    cotonoma_key text,        -- the cotonoma that was not, if it was one
    PRIMARY KEY (job_id, seq)
);
