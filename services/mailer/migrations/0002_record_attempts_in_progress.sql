-- A delivery is marked 'sending' when an attempt starts, before the SMTP
-- conversation, and stays so until the attempt ends as sent, failed or dead.
-- This gives three things the first schema could not:
--  * two consumers holding the same job (one reclaimed it from the other, or
--    a producer added it twice) never mail it at the same time: the second
--    sees a fresh 'sending' row and waits;
--  * a consumer that dies mid-attempt is recognised by its attempt growing
--    older than MAIL_RECLAIM_IDLE_MS, and its job taken over;
--  * attempts are counted before they are made, so a job that kills its
--    consumer every time still ends in the dead-letter stream instead of
--    being retried forever.
-- job_id is the job's own "id" (a UUID, the same however often the job is
-- read), or the stream entry id for a malformed job that has no usable id.
--
-- Only widens what is allowed: the constraints are replaced NOT VALID here
-- (no scan under the table lock) and validated by the next migration.
ALTER TABLE deliveries ADD COLUMN attempt_started_at timestamptz;

ALTER TABLE deliveries
    DROP CONSTRAINT deliveries_status_known,
    ADD CONSTRAINT deliveries_status_known
        CHECK (status IN ('sending', 'sent', 'failed', 'dead')) NOT VALID,
    DROP CONSTRAINT deliveries_failure_has_error,
    ADD CONSTRAINT deliveries_failure_has_error
        CHECK (status IN ('sending', 'sent') OR last_error IS NOT NULL) NOT VALID,
    ADD CONSTRAINT deliveries_sending_has_start
        CHECK (status <> 'sending' OR attempt_started_at IS NOT NULL) NOT VALID;
