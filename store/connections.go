package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/usherhq/usher"
)

const connCols = `id, tenant_id, name, protocol, enforced, config, created_at, updated_at, deactivated_at`

// connConfig is the part of a connection kept as JSON: protocol details,
// just-in-time defaults and the attribute mapping, which no query filters on.
// Secrets arrive here sealed.
type connConfig struct {
	Domains         []string               `json:"domains"`
	JIT             bool                   `json:"jit"`
	JITRoleID       string                 `json:"jit_role_id,omitempty"`
	JITPlanID       string                 `json:"jit_plan_id,omitempty"`
	JITDepartmentID string                 `json:"jit_department_id,omitempty"`
	JITJobProfileID string                 `json:"jit_job_profile_id,omitempty"`
	Mapping         usher.AttributeMapping `json:"mapping"`
	UpdateOnSignIn  bool                   `json:"update_on_signin,omitempty"`
	Issuer          string                 `json:"issuer,omitempty"`
	ClientID        string                 `json:"client_id,omitempty"`
	ClientSecret    string                 `json:"client_secret,omitempty"`
	Scopes          []string               `json:"scopes,omitempty"`
	UserInfo        bool                   `json:"userinfo,omitempty"`
	MetadataURL     string                 `json:"metadata_url,omitempty"`
	MetadataXML     string                 `json:"metadata_xml,omitempty"`
	IdPInitiated    bool                   `json:"idp_initiated,omitempty"`
	SPCertificate   string                 `json:"sp_certificate,omitempty"`
	SPKey           string                 `json:"sp_key,omitempty"`
}

func scanConn(r scanner) (usher.Connection, error) {
	var c usher.Connection
	var cfg string
	var deact sql.NullTime
	if err := r.Scan(&c.ID, &c.TenantID, &c.Name, &c.Protocol, &c.Enforced, &cfg, &c.CreatedAt, &c.UpdatedAt, &deact); err != nil {
		return c, err
	}
	c.DeactivatedAt = ptrTime(deact)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	var k connConfig
	if err := json.Unmarshal([]byte(cfg), &k); err != nil {
		return c, fmt.Errorf("connection %s config: %w", c.ID, err)
	}
	c.Domains, c.JIT, c.JITRoleID, c.JITPlanID, c.JITDepartmentID, c.JITJobProfileID = k.Domains, k.JIT, k.JITRoleID, k.JITPlanID, k.JITDepartmentID, k.JITJobProfileID
	c.Mapping, c.UpdateOnSignIn = k.Mapping, k.UpdateOnSignIn
	c.Issuer, c.ClientID, c.ClientSecret, c.Scopes, c.UserInfo = k.Issuer, k.ClientID, k.ClientSecret, k.Scopes, k.UserInfo
	c.MetadataURL, c.MetadataXML, c.IdPInitiated, c.SPCertificate, c.SPKey = k.MetadataURL, k.MetadataXML, k.IdPInitiated, k.SPCertificate, k.SPKey
	if c.Domains == nil {
		c.Domains = []string{}
	}
	return c, nil
}

func connJSON(c *usher.Connection) (string, error) {
	b, err := json.Marshal(connConfig{Domains: c.Domains, JIT: c.JIT, JITRoleID: c.JITRoleID, JITPlanID: c.JITPlanID,
		JITDepartmentID: c.JITDepartmentID, JITJobProfileID: c.JITJobProfileID, Mapping: c.Mapping, UpdateOnSignIn: c.UpdateOnSignIn,
		Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: c.Scopes, UserInfo: c.UserInfo,
		MetadataURL: c.MetadataURL, MetadataXML: c.MetadataXML, IdPInitiated: c.IdPInitiated, SPCertificate: c.SPCertificate, SPKey: c.SPKey})
	return string(b), err
}

// InsertConnection stores c and claims its email domains; a domain of
// another connection of the tenant is a conflict on "domains".
func (t *Tx) InsertConnection(ctx context.Context, tenant string, c *usher.Connection) error {
	if c.ID == "" {
		c.ID = NewID()
	}
	c.TenantID, c.CreatedAt, c.UpdatedAt = tenant, t.now, t.now
	cfg, err := connJSON(c)
	if err != nil {
		return err
	}
	if _, err := t.ExecContext(ctx, `INSERT INTO connections (`+connCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,NULL)`,
		c.ID, tenant, c.Name, c.Protocol, c.Enforced, cfg, t.now, t.now); err != nil {
		return fmt.Errorf("insert connection: %w", err)
	}
	return t.claimDomains(ctx, tenant, c.ID, c.Domains)
}

func (t *Tx) claimDomains(ctx context.Context, tenant, conn string, domains []string) error {
	if _, err := t.ExecContext(ctx, `DELETE FROM connection_domains WHERE tenant_id = $1 AND connection_id = $2`, tenant, conn); err != nil {
		return fmt.Errorf("clear domains: %w", err)
	}
	for i, d := range domains {
		res, err := t.ExecContext(ctx, `INSERT INTO connection_domains (tenant_id, domain, connection_id) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING`, tenant, d, conn)
		if err != nil {
			return fmt.Errorf("claim domain: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return usher.Conflict(fmt.Sprintf("domains[%d]", i), "%s already belongs to another connection of this tenant", d)
		}
	}
	return nil
}

// Connection returns connection id of tenant.
func (t *Tx) Connection(ctx context.Context, tenant, id string) (usher.Connection, error) {
	c, err := scanConn(t.QueryRowContext(ctx, `SELECT `+connCols+` FROM connections WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenant, id))
	if notFound(err) {
		return c, usher.NotFound("connection_id", "connection")
	}
	return c, err
}

// ConnectionForDomain returns the active connection that owns the email domain.
func (t *Tx) ConnectionForDomain(ctx context.Context, tenant, domain string) (usher.Connection, error) {
	c, err := scanConn(t.QueryRowContext(ctx, `SELECT `+prefixed("c.", connCols)+` FROM connection_domains d JOIN connections c ON c.id = d.connection_id
		WHERE d.tenant_id = $1 AND d.domain = $2 AND c.deactivated_at IS NULL`, tenant, domain))
	if notFound(err) {
		return c, usher.NotFound("email", "connection for the domain")
	}
	return c, err
}

// Connections lists tenant's connections.
func (t *Tx) Connections(ctx context.Context, tenant string, active bool, o ListOptions) ([]usher.Connection, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if active {
		w.add("deactivated_at IS NULL")
	}
	return page(ctx, t, `SELECT `+connCols+` FROM connections`, w, o, scanConn, func(x usher.Connection) string { return x.ID })
}

// UpdateConnection writes c and its domains.
func (t *Tx) UpdateConnection(ctx context.Context, tenant string, c *usher.Connection) error {
	c.UpdatedAt = t.now
	cfg, err := connJSON(c)
	if err != nil {
		return err
	}
	res, err := t.ExecContext(ctx, `UPDATE connections SET name = $3, enforced = $4, config = $5, updated_at = $6, deactivated_at = $7
		WHERE tenant_id = $1 AND id = $2`, tenant, c.ID, c.Name, c.Enforced, cfg, t.now, nullTime(c.DeactivatedAt))
	if err != nil {
		return fmt.Errorf("update connection: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("connection_id", "connection")
	}
	domains := c.Domains
	if c.DeactivatedAt != nil {
		domains = nil // a deactivated connection gives its domains back
	}
	return t.claimDomains(ctx, tenant, c.ID, domains)
}

// ConnectionCandidates returns, in one query, at most two active
// connections of tenant: the one owning domain first if there is one. The
// caller tells "the domain's", "the only one" and "ambiguous" apart.
func (t *Tx) ConnectionCandidates(ctx context.Context, tenant, domain string) (conns []usher.Connection, domainMatch bool, err error) {
	rows, err := t.QueryContext(ctx, `SELECT `+prefixed("c.", connCols)+`, d.domain IS NOT NULL FROM connections c
		LEFT JOIN connection_domains d ON d.connection_id = c.id AND d.tenant_id = c.tenant_id AND d.domain = $2
		WHERE c.tenant_id = $1 AND c.deactivated_at IS NULL ORDER BY d.domain IS NULL, c.id LIMIT 2`, tenant, domain)
	if err != nil {
		return nil, false, fmt.Errorf("find connections: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var match bool
		c, err := scanConn(scanFunc(func(dest ...any) error { return rows.Scan(append(dest, &match)...) }))
		if err != nil {
			return nil, false, err
		}
		if len(conns) == 0 {
			domainMatch = match
		}
		conns = append(conns, c)
	}
	return conns, domainMatch, rows.Err()
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }
