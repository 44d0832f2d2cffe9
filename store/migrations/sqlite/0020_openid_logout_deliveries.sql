-- What administrators see of back-channel logout deliveries (package
-- openid): the HTTP status the last failed attempt was answered with (0
-- when there was no answer) and the kind of its failure, a word the
-- console puts into human words ('' after a success or before any attempt).
ALTER TABLE openid_logout_events ADD COLUMN last_status INTEGER NOT NULL DEFAULT 0;
ALTER TABLE openid_logout_events ADD COLUMN last_failure TEXT NOT NULL DEFAULT '';

-- A product's deliveries, newest first (ids are time-ordered), a page at a time.
CREATE INDEX openid_logout_events_client ON openid_logout_events(tenant_id, client_id, id);
