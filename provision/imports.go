package provision

import (
	"context"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// AuditImport records a bulk import as a whole, by the administrator who
// ran it: which file and what came of its rows (details). Its rows are
// created by the actor usher.ActorImport with importID, so each account's
// creation leads back to this event.
func (s *Service) AuditImport(ctx context.Context, actor usher.Actor, tenant usher.Tenant, importID string, details map[string]string) error {
	if err := actor.Require(usher.AdminUser); err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		return audit(ctx, tx, tenant.ID, actor, "import.completed", "import", importID, details)
	})
}
