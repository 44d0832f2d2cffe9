-- Sign-up links (seed 003's self sign-up by department QR codes or links).
-- The code is random and not a credential, so it is stored plainly; uses is
-- only ever raised by one conditional UPDATE, which keeps it within max_uses.
CREATE TABLE signup_links (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  department_id TEXT NOT NULL DEFAULT '',
  job_profile_id TEXT NOT NULL DEFAULT '',
  role_id TEXT NOT NULL DEFAULT '',
  plan_id TEXT NOT NULL DEFAULT '',
  expires_at TIMESTAMPTZ,
  max_uses INTEGER NOT NULL DEFAULT 0 CHECK (max_uses >= 0),
  uses INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
  disabled_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX signup_links_tenant ON signup_links(tenant_id, id);
CREATE INDEX signup_links_department ON signup_links(tenant_id, department_id, id);
