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
					got, err = tx.ClaimMessages(e.ctx, "w", 4, time.Minute, []string{usher.ChannelEmail})
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
		again, err = tx.ClaimMessages(e.ctx, "w", 10, time.Minute, []string{usher.ChannelEmail, usher.ChannelSMS})
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

// testLateCourier: a courier whose lease ran out, and whose messages
// another claimed since, can neither give them back to the queue nor
// record a failure over the other's claim.
func testLateCourier(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	var ids []string
	e.write(func(tx *store.Tx) error {
		for i := range 3 {
			m := &usher.Message{Kind: "test", Channel: usher.ChannelEmail, To: fmt.Sprintf("m%d@example.com", i), Language: "en", Body: "hi"}
			if _, err := tx.QueueMessage(e.ctx, tn.ID, m); err != nil {
				return err
			}
			ids = append(ids, m.ID)
		}
		return nil
	})
	claim := func(owner string) (got []usher.Message) {
		t.Helper()
		e.write(func(tx *store.Tx) error {
			var err error
			got, err = tx.ClaimMessages(e.ctx, owner, 10, time.Minute, []string{usher.ChannelEmail})
			return err
		})
		return got
	}
	if got := claim("a"); len(got) != 3 {
		t.Fatalf("a claimed %d", len(got))
	}
	e.clock.Advance(2 * time.Minute)
	if got := claim("b"); len(got) != 3 {
		t.Fatalf("b claimed %d after a's lease", len(got))
	}
	retry := e.clock.Now()
	e.write(func(tx *store.Tx) error {
		if err := tx.MarkFailed(e.ctx, ids[0], "a", "late", &retry); err != nil {
			return err
		}
		if err := tx.MarkFailed(e.ctx, ids[1], "a", "late", nil); err != nil {
			return err
		}
		return tx.ReleaseMessages(e.ctx, "a", ids[2:])
	})
	if got := claim("c"); len(got) != 0 {
		t.Fatalf("a's late outcomes freed %d of b's messages", len(got))
	}
	for _, id := range ids {
		m, err := e.st.Read().Message(e.ctx, tn.ID, id)
		if err != nil || m.State != "queued" || m.LastError != "" || m.Attempts != 2 {
			t.Fatalf("after a's late outcomes: %+v %v", m, err)
		}
	}
	// b's own release counts no attempt; its failure records one.
	e.write(func(tx *store.Tx) error {
		if err := tx.ReleaseMessages(e.ctx, "b", ids[2:]); err != nil {
			return err
		}
		return tx.MarkFailed(e.ctx, ids[1], "b", "refused", nil)
	})
	if m, _ := e.st.Read().Message(e.ctx, tn.ID, ids[1]); m.State != "abandoned" || m.LastError != "refused" {
		t.Fatalf("b's failure: %+v", m)
	}
	if m, _ := e.st.Read().Message(e.ctx, tn.ID, ids[2]); m.Attempts != 1 {
		t.Fatalf("b's release: %+v", m)
	}
}
