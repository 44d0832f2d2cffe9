package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/usherhq/usher"
)

const personCols = `id, tenant_id, organization_id, first_name, last_name, email, phone, department_id, job_profile_id, language, external_id, managed_by, created_at, updated_at, deactivated_at`

func scanPerson(r scanner) (usher.Person, error) {
	var p usher.Person
	var deact sql.NullTime
	err := r.Scan(personDest(&p, &deact)...)
	finishPerson(&p, deact)
	return p, err
}

// personDest are the destinations of personCols, for a row that holds
// more than a person; finishPerson completes what they read.
func personDest(p *usher.Person, deact *sql.NullTime) []any {
	return []any{&p.ID, &p.TenantID, &p.OrganizationID, &p.FirstName, &p.LastName, &p.Email, &p.Phone,
		&p.DepartmentID, &p.JobProfileID, &p.Language, &p.ExternalID, &p.ManagedBy, &p.CreatedAt, &p.UpdatedAt, deact}
}

func finishPerson(p *usher.Person, deact sql.NullTime) {
	p.DeactivatedAt = ptrTime(deact)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
}

// InsertPerson stores p in tenant. An email already used by a contact of the
// same organization is a conflict on "email".
func (t *Tx) InsertPerson(ctx context.Context, tenant string, p *usher.Person) error {
	if p.ID == "" {
		p.ID = NewID()
	}
	p.TenantID, p.CreatedAt, p.UpdatedAt = tenant, t.now, t.now
	email := p.Email
	return t.insertThen(ctx, func(n int64, err error) error {
		if err != nil {
			return fmt.Errorf("insert person: %w", err)
		}
		if n == 0 {
			return usher.Conflict("email", "%s is already the email of a contact in this organization", email)
		}
		return nil
	}, `INSERT INTO persons (`+personCols+`) VALUES `, ` ON CONFLICT DO NOTHING`, 15,
		p.ID, tenant, p.OrganizationID, p.FirstName, p.LastName, p.Email, p.Phone, p.DepartmentID, p.JobProfileID, p.Language, p.ExternalID, p.ManagedBy, t.now, t.now, nil)
}

// Person returns person id of tenant.
func (t *Tx) Person(ctx context.Context, tenant, id string) (usher.Person, error) {
	p, err := scanPerson(t.QueryRowContext(ctx, `SELECT `+personCols+` FROM persons WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenant, id))
	if notFound(err) {
		return p, usher.NotFound("person_id", "person")
	}
	return p, err
}

// PersonFilter narrows a list of persons.
type PersonFilter struct {
	OrganizationID string
	DepartmentID   string
	JobProfileID   string
	Email          string
	ExternalID     string
	Name           string // prefix of first or last name, case-insensitive
	Active         bool
	// Query is a prefix of the first name, last name or email, for the console's search.
	Query string
	// Of the person's account: its state ("none": no account), plan and role.
	AccountState, PlanID, RoleID string
}

// Persons lists tenant's persons.
func (t *Tx) Persons(ctx context.Context, tenant string, f PersonFilter, o ListOptions) ([]usher.Person, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if f.OrganizationID != "" {
		w.add("organization_id = ?", f.OrganizationID)
	}
	if f.DepartmentID != "" {
		w.add("department_id = ?", f.DepartmentID)
	}
	if f.JobProfileID != "" {
		w.add("job_profile_id = ?", f.JobProfileID)
	}
	if f.Email != "" {
		w.add("email = ? AND email <> ''", f.Email) // the partial index persons_email_org
	}
	if f.ExternalID != "" {
		w.add("external_id = ?", f.ExternalID)
	}
	if f.Name != "" {
		p := likePrefix(f.Name)
		w.add(`(lower(first_name) LIKE ? ESCAPE '\' OR lower(last_name) LIKE ? ESCAPE '\')`, p, p)
	}
	if f.Active {
		w.add("deactivated_at IS NULL")
	}
	if f.Query != "" {
		p := likePrefix(f.Query)
		w.add(`(lower(first_name) LIKE ? ESCAPE '\' OR lower(last_name) LIKE ? ESCAPE '\' OR email LIKE ? ESCAPE '\')`, p, p, p)
	}
	switch {
	case f.AccountState == "none":
		w.add("id NOT IN (SELECT person_id FROM accounts WHERE tenant_id = ?)", tenant)
	case f.AccountState != "" || f.PlanID != "" || f.RoleID != "":
		a := &where{args: w.args}
		a.add("tenant_id = ?", tenant)
		if f.AccountState != "" {
			a.add("state = ?", f.AccountState)
		}
		if f.PlanID != "" {
			a.add("plan_id = ?", f.PlanID)
		}
		if f.RoleID != "" {
			a.add("role_id = ?", f.RoleID)
		}
		w.conds = append(w.conds, "id IN (SELECT person_id FROM accounts"+a.sql()+")")
		w.args = a.args
	}
	return page(ctx, t, `SELECT `+personCols+` FROM persons`, w, o, scanPerson, func(x usher.Person) string { return x.ID })
}

// UpdatePerson writes every field of p but its organization.
func (t *Tx) UpdatePerson(ctx context.Context, tenant string, p *usher.Person) error {
	p.UpdatedAt = t.now
	res, err := t.ExecContext(ctx, `UPDATE persons SET first_name = $3, last_name = $4, email = $5, phone = $6, department_id = $7,
		job_profile_id = $8, language = $9, external_id = $10, updated_at = $11, deactivated_at = $12, managed_by = $13 WHERE tenant_id = $1 AND id = $2`,
		tenant, p.ID, p.FirstName, p.LastName, p.Email, p.Phone, p.DepartmentID, p.JobProfileID, p.Language, p.ExternalID, t.now, nullTime(p.DeactivatedAt), p.ManagedBy)
	if isUnique(err) {
		return usher.Conflict("email", "%s is already the email of a contact in this organization", p.Email)
	}
	if err != nil {
		return fmt.Errorf("update person: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("person_id", "person")
	}
	return nil
}
