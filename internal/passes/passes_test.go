package passes_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/passes"
)

// A pass that reports more work is followed at once; one that fails is
// logged, and the next waits for the poll; Run ends with its context.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	calls := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		passes.Run(ctx, time.Millisecond, log, "test: worker", func(context.Context) (bool, error) {
			calls++
			switch {
			case calls <= 3:
				return true, nil
			case calls == 4:
				return true, errors.New("the database went away")
			default:
				cancel()
				return false, nil
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end with its context")
	}
	if calls != 5 {
		t.Fatalf("%d passes, want 5", calls)
	}
	if !strings.Contains(logs.String(), "test: worker pass failed") || !strings.Contains(logs.String(), "the database went away") {
		t.Fatalf("the failed pass was not logged: %s", logs.String())
	}
}
