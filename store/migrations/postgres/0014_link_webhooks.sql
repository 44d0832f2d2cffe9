-- Webhooks of linked accounts (package linked): where a tenant's product
-- hears that a link changed state, and the events waiting to be delivered.

-- A tenant's webhook for link events: the address and the signing secret,
-- sealed. One per tenant.
CREATE TABLE link_webhooks (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);

-- The outbox of link events, written in the transaction of the link's
-- change while the tenant has a webhook. seq orders one link's events: an
-- event is delivered only after every earlier one of its link was
-- delivered or abandoned. next_at is the next attempt; lease_owner and
-- lease_until keep two workers from delivering the same event at once.
CREATE TABLE link_events (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  link_id TEXT NOT NULL REFERENCES links(id),
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  from_state TEXT NOT NULL DEFAULT '',
  to_state TEXT NOT NULL,
  at TIMESTAMPTZ NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at TIMESTAMPTZ NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until TIMESTAMPTZ,
  delivered_at TIMESTAMPTZ,
  abandoned_at TIMESTAMPTZ,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX link_events_seq ON link_events(link_id, seq);
CREATE INDEX link_events_due ON link_events(next_at) WHERE delivered_at IS NULL AND abandoned_at IS NULL;
CREATE INDEX link_events_tenant ON link_events(tenant_id, at);
