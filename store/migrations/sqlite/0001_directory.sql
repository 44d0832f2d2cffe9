-- The directory, in SQLite. Every tenant-owned table carries tenant_id and
-- every query filters on it. Absent strings are '' so scans need no NULL handling.
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  -- the tenant's own organization, created with it and never deactivated
  internal_org_id TEXT NOT NULL,
  settings TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  deactivated_at TIMESTAMP
);

CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('internal','external')),
  parent_id TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  deactivated_at TIMESTAMP
);
CREATE INDEX organizations_tenant ON organizations(tenant_id, id);
-- One internal (own) organization per tenant.
CREATE UNIQUE INDEX organizations_one_internal ON organizations(tenant_id) WHERE kind = 'internal' AND parent_id = '';

CREATE TABLE persons (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  organization_id TEXT NOT NULL REFERENCES organizations(id),
  first_name TEXT NOT NULL DEFAULT '',
  last_name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  phone TEXT NOT NULL DEFAULT '',
  department_id TEXT NOT NULL DEFAULT '',
  job_profile_id TEXT NOT NULL DEFAULT '',
  language TEXT NOT NULL DEFAULT '',
  external_id TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  deactivated_at TIMESTAMP
);
CREATE INDEX persons_tenant ON persons(tenant_id, id);
CREATE INDEX persons_org ON persons(tenant_id, organization_id, id);
-- A contact's email is unique within its organization.
CREATE UNIQUE INDEX persons_email_per_org ON persons(tenant_id, organization_id, email) WHERE email <> '';

-- An identity is one login across tenants. Its email is unique when it has
-- one; an identity for a username-only account has none.
CREATE TABLE identities (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX identities_email ON identities(email) WHERE email <> '';

CREATE TABLE attributes (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  deactivated_at TIMESTAMP
);
CREATE UNIQUE INDEX attributes_key ON attributes(tenant_id, kind, key);
CREATE INDEX attributes_list ON attributes(tenant_id, kind, id);

CREATE TABLE plans (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  key TEXT NOT NULL,
  name TEXT NOT NULL,
  seats INTEGER NOT NULL CHECK (seats >= 0),
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  deactivated_at TIMESTAMP
);
CREATE UNIQUE INDEX plans_key ON plans(tenant_id, key);

-- A seat is a row; an account holds at most one. Claiming a free row (rather
-- than incrementing a counter) keeps concurrent creations off one hot row.
CREATE TABLE plan_seats (
  tenant_id TEXT NOT NULL,
  plan_id TEXT NOT NULL REFERENCES plans(id),
  seat_no INTEGER NOT NULL,
  account_id TEXT,
  PRIMARY KEY (plan_id, seat_no)
);
CREATE INDEX plan_seats_free ON plan_seats(plan_id, seat_no) WHERE account_id IS NULL;
CREATE UNIQUE INDEX plan_seats_account ON plan_seats(account_id) WHERE account_id IS NOT NULL;

CREATE TABLE connections (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  protocol TEXT NOT NULL CHECK (protocol IN ('oidc','saml')),
  enforced BOOLEAN NOT NULL DEFAULT FALSE,
  config TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  deactivated_at TIMESTAMP
);
CREATE INDEX connections_tenant ON connections(tenant_id, id);
-- Home-realm discovery: an email domain belongs to at most one connection of a tenant.
CREATE TABLE connection_domains (
  tenant_id TEXT NOT NULL,
  domain TEXT NOT NULL,
  connection_id TEXT NOT NULL REFERENCES connections(id),
  PRIMARY KEY (tenant_id, domain)
);

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  person_id TEXT NOT NULL REFERENCES persons(id),
  identity_id TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('invited','active','suspended','deactivated')),
  auth_system TEXT NOT NULL CHECK (auth_system IN ('password','connection')),
  connection_id TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  username TEXT NOT NULL DEFAULT '',
  phone TEXT NOT NULL DEFAULT '',
  role_id TEXT NOT NULL DEFAULT '',
  plan_id TEXT NOT NULL REFERENCES plans(id),
  primary_group_id TEXT NOT NULL DEFAULT '',
  group_ids TEXT NOT NULL DEFAULT '',
  admin_role TEXT NOT NULL DEFAULT '',
  language TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  activated_at TIMESTAMP,
  deactivated_at TIMESTAMP,
  -- when the newest activation secret of an invited account expires
  invite_expires_at TIMESTAMP
);
CREATE UNIQUE INDEX accounts_person ON accounts(tenant_id, person_id);
CREATE INDEX accounts_tenant ON accounts(tenant_id, id);
CREATE INDEX accounts_state ON accounts(tenant_id, state, id);
CREATE INDEX accounts_plan ON accounts(tenant_id, plan_id, id);

-- Login identifiers (email, username, phone) share one namespace per tenant,
-- so the sign-in box can take any of them without ambiguity.
CREATE TABLE login_ids (
  tenant_id TEXT NOT NULL,
  value TEXT NOT NULL,
  kind TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  PRIMARY KEY (tenant_id, value)
);
CREATE INDEX login_ids_account ON login_ids(account_id);

-- A person's contact roles at a site: one row per role.
CREATE TABLE relationships (
  tenant_id TEXT NOT NULL,
  site_id TEXT NOT NULL REFERENCES organizations(id),
  person_id TEXT NOT NULL REFERENCES persons(id),
  role TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (tenant_id, site_id, person_id, role)
);
CREATE UNIQUE INDEX relationships_one_primary ON relationships(tenant_id, site_id) WHERE role = 'Primary';
CREATE INDEX relationships_person ON relationships(tenant_id, person_id);

CREATE TABLE audit_events (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  at TIMESTAMP NOT NULL,
  actor_kind TEXT NOT NULL,
  actor_id TEXT NOT NULL DEFAULT '',
  action TEXT NOT NULL,
  target_kind TEXT NOT NULL,
  target_id TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  details TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_tenant ON audit_events(tenant_id, id);
CREATE INDEX audit_events_target ON audit_events(tenant_id, target_id, id);

-- The outbox: queued with the change that causes it; the dedupe key makes a
-- retried change unable to queue the same message twice.
CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  channel TEXT NOT NULL,
  to_addr TEXT NOT NULL,
  account_id TEXT NOT NULL DEFAULT '',
  language TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL,
  html TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  dedupe_key TEXT NOT NULL UNIQUE,
  created_at TIMESTAMP NOT NULL,
  next_attempt_at TIMESTAMP NOT NULL,
  lease_until TIMESTAMP,
  sent_at TIMESTAMP
);
CREATE INDEX messages_tenant ON messages(tenant_id, id);
CREATE INDEX messages_due ON messages(next_attempt_at) WHERE state = 'queued';

-- Activation secrets, stored only as hashes.
CREATE TABLE activations (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  secret_hash TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('link','code','otp')),
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP
);
CREATE INDEX activations_account ON activations(tenant_id, account_id);

-- API tokens; tenant_id '' marks an operator token.
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP,
  revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_tenant ON api_tokens(tenant_id, id);
