-- Checks the rows written before 0002 against its constraints. VALIDATE holds
-- only a SHARE UPDATE EXCLUSIVE lock, so mail keeps being logged meanwhile.
ALTER TABLE deliveries VALIDATE CONSTRAINT deliveries_status_known;
ALTER TABLE deliveries VALIDATE CONSTRAINT deliveries_failure_has_error;
ALTER TABLE deliveries VALIDATE CONSTRAINT deliveries_sending_has_start;
