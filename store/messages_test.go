package store_test

// The outbox: concurrent claims and deduplication of queued messages.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

func testClaims(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	const n = 60
	err := e.st.Write(e.ctx, func(tx *store.Tx) error {
		for i := range n {
			m := &usher.Message{Kind: "test", Channel: usher.ChannelEmail, To: fmt.Sprintf("m%d@example.com", i), Language: "en", Body: "hi"}
			if _, err := tx.QueueMessage(e.ctx, tn.ID, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var got []usher.Message
				err := e.st.Write(e.ctx, func(tx *store.Tx) error {
					var err error
					got, err = tx.ClaimMessages(e.ctx, 4, time.Minute, []string{usher.ChannelEmail})
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d distinct messages, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("message %s claimed %d times", id, c)
		}
	}
	// Leased messages are not claimed again until the lease ends; failures come back at their retry time.
	var again []usher.Message
	_ = e.st.Write(e.ctx, func(tx *store.Tx) error {
		again, err = tx.ClaimMessages(e.ctx, 10, time.Minute, []string{usher.ChannelEmail, usher.ChannelSMS})
		return err
	})
	if len(again) != 0 {
		t.Fatalf("claimed %d leased messages", len(again))
	}
}

func testDedupe(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	var first, second bool
	err := e.st.Write(e.ctx, func(tx *store.Tx) error {
		m1 := &usher.Message{Kind: "k", Channel: usher.ChannelEmail, To: "x@example.com", Language: "en", Body: "1", DedupeKey: "event-1:email"}
		m2 := &usher.Message{Kind: "k", Channel: usher.ChannelEmail, To: "x@example.com", Language: "en", Body: "2", DedupeKey: "event-1:email"}
		var err error
		if first, err = tx.QueueMessage(e.ctx, tn.ID, m1); err != nil {
			return err
		}
		second, err = tx.QueueMessage(e.ctx, tn.ID, m2)
		return err
	})
	if err != nil || !first || second {
		t.Fatalf("dedupe: first %v second %v err %v", first, second, err)
	}
}
