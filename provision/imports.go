package provision

import (
	"context"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// AuditImportIn records a bulk import as a whole, by the administrator
// who ran it, in tx, the transaction that records the import's end: which
// file and what came of its rows (details). Its rows are created by the
// actor usher.ActorImport with importID, so each account's creation leads
// back to this event.
func (s *Service) AuditImportIn(ctx context.Context, tx *store.Tx, actor usher.Actor, tenant usher.Tenant, importID string, details map[string]string) error {
	if err := actor.Require(usher.AdminUser); err != nil {
		return err
	}
	return audit(ctx, tx, tenant.ID, actor, "import.completed", "import", importID, details)
}
