-- A session's end voids the codes it signed in for that were not used yet
-- (openid's hooks): this finds them without reading every request.
CREATE INDEX openid_auth_requests_session ON openid_auth_requests(identity_id, session_id) WHERE code_used_at IS NULL;
