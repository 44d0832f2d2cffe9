package courier_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/usherhq/usher/courier"
	"github.com/usherhq/usher/store"
)

// BenchmarkDeliverSMTP measures delivery from a SQLite outbox to a local
// SMTP server with the worker's default options (batches of 16, 4 at
// once): claim, send over kept connections, mark sent.
//
//	go test -run '^$' -bench DeliverSMTP -benchtime 5000x ./courier/
func BenchmarkDeliverSMTP(b *testing.B) {
	ctx := context.Background()
	// storetest.OpenSQLite takes a *testing.T; open the same way here.
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "usher.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv := startMailServer(b)
	sender := newSMTPSender(b, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
	w := courier.NewWorker(st, courier.Config{Email: sender}, courier.Options{})
	for done := 0; done < b.N; done += 1000 {
		queueEmails(b, st, min(1000, b.N-done))
	}
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; {
		n, err := w.RunOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("nothing claimed after %d of %d", sent, b.N)
		}
		sent += n
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got := srv.Count(); got != b.N {
		b.Fatalf("server accepted %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
