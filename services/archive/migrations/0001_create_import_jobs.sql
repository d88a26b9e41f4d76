-- Import jobs: a file someone posted to POST /api/import, the progress of its
-- import and, once it is done, its result (the original Cotoami's shape).
-- The data itself goes to its owners (cotos, cotonomas, graph); this is only
-- the work and its report. The file is kept until the job is done, so a job
-- whose process died is taken up again by another (lease_until).
CREATE TABLE import_jobs (
    id          uuid PRIMARY KEY,
    amishi_id   uuid NOT NULL,
    -- Who imports, as their access token said when they posted the file:
    -- {id, email, display_name, avatar_url}; the job runs as them.
    amishi      jsonb NOT NULL,
    state       text NOT NULL DEFAULT 'queued'
                CONSTRAINT import_jobs_state CHECK (state IN ('queued', 'running', 'done', 'failed')),
    file        bytea,
    -- Where the job is: {stage, position} and the result so far; what it has
    -- done is never done twice by the one who takes it up again.
    checkpoint  jsonb NOT NULL DEFAULT '{}',
    result      jsonb,
    done        integer NOT NULL DEFAULT 0,
    total       integer NOT NULL DEFAULT 0,
    stage       text NOT NULL DEFAULT 'queued',
    error       text,
    attempts    integer NOT NULL DEFAULT 0,
    lease_until timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CONSTRAINT import_jobs_file_until_finished CHECK (state IN ('done', 'failed') OR file IS NOT NULL)
);

-- One import at a time per person: two would write the same cotos at once.
CREATE UNIQUE INDEX import_jobs_one_running ON import_jobs (amishi_id) WHERE state IN ('queued', 'running');
-- What the workers look for, oldest first.
CREATE INDEX import_jobs_waiting ON import_jobs (created_at) WHERE state IN ('queued', 'running');
-- A person's jobs, newest first.
CREATE INDEX import_jobs_by_amishi ON import_jobs (amishi_id, created_at DESC);
