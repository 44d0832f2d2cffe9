// Package passes runs a background worker's passes: the leased workers
// (linked accounts, logout tokens, imports) each claim work through the
// database in a pass and share how passes follow each other.
package passes

import (
	"context"
	"log/slog"
	"time"
)

// Run calls pass until ctx ends: again at once while a pass reports more
// work and no error, otherwise after poll. A failed pass is logged as
// what's and tried again after poll.
func Run(ctx context.Context, poll time.Duration, log *slog.Logger, what string, pass func(context.Context) (more bool, err error)) {
	for {
		more, err := pass(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Error(what+" pass failed", "err", err)
		}
		if more && err == nil {
			continue
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
