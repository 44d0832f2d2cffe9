package courier_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/courier"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// fastOptions are worker options for tests: a short poll, the fake clock.
func fastOptions(clock *storetest.Clock) courier.Options {
	return courier.Options{Now: clock.Now, Poll: 5 * time.Millisecond}
}

// run starts w.Run and returns a function that stops it and waits.
func run(w *courier.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.Run(ctx)
		close(done)
	}()
	return func() {
		cancel()
		<-done
	}
}

// checkDeliveredOnce asserts that every message arrived exactly once, as queued.
func checkDeliveredOnce(t *testing.T, srv *mailServer, sender *courier.SMTPSender, msgs []usher.Message) {
	t.Helper()
	got := srv.byRecipient()
	for _, m := range msgs {
		rs := got[m.To]
		if len(rs) != 1 {
			t.Errorf("%s received %d times, want once", m.To, len(rs))
			continue
		}
		r := rs[0]
		if r.Subject != m.Subject || strings.TrimRight(r.Body, "\n") != m.Body || r.MessageID != sender.MessageID(m.ID) {
			t.Errorf("%s received subject %q, body %q, Message-ID %q; want %q, %q, %q",
				m.To, r.Subject, r.Body, r.MessageID, m.Subject, m.Body, sender.MessageID(m.ID))
		}
	}
	if n := srv.Count(); n != len(msgs) {
		t.Errorf("server accepted %d emails, want %d", n, len(msgs))
	}
}

func allSent(t testing.TB, st *store.Store, n int) func() bool {
	return func() bool { return countStates(t, st)[usher.MessageSent] == n }
}

func TestWorkerDeliversEachMessageOnce(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		srv := startMailServer(t, withAuth("usher", "secret"))
		sender := newSMTPSender(t, "smtp+insecure://usher:secret@"+srv.Addr+"?auth=plain&from=noreply@acme.example", nil)
		msgs := queueEmails(t, st, 40)

		stop := run(courier.NewWorker(st, courier.Config{Email: sender}, fastOptions(clock)))
		waitFor(t, "all messages sent", 10*time.Second, allSent(t, st, len(msgs)))
		stop()

		checkDeliveredOnce(t, srv, sender, msgs)
		for _, m := range messages(t, st) {
			if m.State != usher.MessageSent || m.Attempts != 1 || m.SentAt == nil || !m.SentAt.Equal(clock.Now()) || m.LastError != "" {
				t.Errorf("message %s: state %s, attempts %d, sent at %v, last error %q", m.To, m.State, m.Attempts, m.SentAt, m.LastError)
			}
		}
	})
}

// refuseFirst makes srv answer 451 to the first n RCPT TO of each recipient.
func refuseFirst(srv *mailServer, n int) {
	var mu sync.Mutex
	tries := map[string]int{}
	srv.Refuse(func(cmd, arg string) *smtp.SMTPError {
		if cmd != "RCPT" {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		tries[arg]++
		if tries[arg] <= n {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted, come back later"}
		}
		return nil
	})
}

// advance moves the clock on by step every few milliseconds until stop is closed.
func advance(clock *storetest.Clock, step time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
				clock.Advance(step)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func TestWorkerRetriesUntilTheServerAccepts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		srv := startMailServer(t)
		refuseFirst(srv, 2)
		sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
		msgs := queueEmails(t, st, 12)

		stop := run(courier.NewWorker(st, courier.Config{Email: sender}, fastOptions(clock)))
		// Wait for the first refusals, then let the backoff pass quickly.
		waitFor(t, "first attempts", 10*time.Second, func() bool {
			for _, m := range messages(t, st) {
				if !strings.Contains(m.LastError, "451") {
					return false
				}
			}
			return true
		})
		if srv.Count() != 0 {
			t.Fatal("accepted before the greylisting ended")
		}
		stopClock := advance(clock, time.Minute)
		waitFor(t, "all messages sent", 15*time.Second, allSent(t, st, len(msgs)))
		stopClock()
		stop()

		checkDeliveredOnce(t, srv, sender, msgs)
		for _, m := range messages(t, st) {
			if m.State != usher.MessageSent || m.Attempts != 3 || m.LastError != "" {
				t.Errorf("message %s: state %s, attempts %d, last error %q; want sent after 3 attempts", m.To, m.State, m.Attempts, m.LastError)
			}
		}
	})
}

func TestWorkerWaitsForAServerThatIsNotUpYet(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens: connection refused
		sender := newSMTPSender(t, "smtp+insecure://"+addr+"?from=noreply@acme.example", nil)
		msgs := queueEmails(t, st, 10)

		stop := run(courier.NewWorker(st, courier.Config{Email: sender}, fastOptions(clock)))
		defer stop()
		waitFor(t, "refused attempts", 10*time.Second, func() bool {
			for _, m := range messages(t, st) {
				if !strings.Contains(m.LastError, "refused") || m.State != usher.MessageQueued {
					return false
				}
			}
			return true
		})
		srv := startMailServerAt(t, addr)
		stopClock := advance(clock, time.Minute)
		waitFor(t, "all messages sent", 15*time.Second, allSent(t, st, len(msgs)))
		stopClock()
		stop()

		checkDeliveredOnce(t, srv, sender, msgs)
		for _, m := range messages(t, st) {
			if m.Attempts < 2 {
				t.Errorf("message %s sent after %d attempts, want at least 2", m.To, m.Attempts)
			}
		}
	})
}

func TestWorkerBacksOffThenAbandons(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		srv := startMailServer(t)
		srv.Refuse(func(cmd, _ string) *smtp.SMTPError {
			if cmd == "RCPT" {
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			}
			return nil
		})
		sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
		msgs := queueEmails(t, st, 3)
		o := fastOptions(clock)
		o.MaxAttempts = 5
		w := courier.NewWorker(st, courier.Config{Email: sender}, o)
		ctx := context.Background()

		// 30s, 1m, 2m, 4m, less up to 20% jitter; then abandoned.
		for attempt, base := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute} {
			if n, err := w.RunOnce(ctx); err != nil || n != len(msgs) {
				t.Fatalf("attempt %d: claimed %d, %v", attempt+1, n, err)
			}
			now := clock.Now()
			for _, m := range messages(t, st) {
				wait := m.NextAttempt.Sub(now)
				if m.State != usher.MessageQueued || m.Attempts != attempt+1 || wait <= base*8/10-time.Millisecond || wait > base || !strings.Contains(m.LastError, "451") {
					t.Fatalf("after attempt %d: state %s, attempts %d, next in %v (want %v less up to 20%%), last error %q",
						attempt+1, m.State, m.Attempts, wait, base, m.LastError)
				}
			}
			// Nothing is due before its time.
			if n, _ := w.RunOnce(ctx); n != 0 {
				t.Fatalf("claimed %d messages before their retry time", n)
			}
			clock.Advance(base)
		}
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		for _, m := range messages(t, st) {
			if m.State != usher.MessageAbandoned || m.Attempts != 5 || !strings.Contains(m.LastError, "gave up after 5 attempts") || !strings.Contains(m.LastError, "451") {
				t.Errorf("message %s: state %s, attempts %d, last error %q; want abandoned after 5", m.To, m.State, m.Attempts, m.LastError)
			}
		}
		t.Logf("last error: %s", messages(t, st)[msgs[0].ID].LastError)
		clock.Advance(24 * time.Hour)
		if n, _ := w.RunOnce(ctx); n != 0 {
			t.Fatalf("claimed %d abandoned messages", n)
		}
		if srv.Count() != 0 {
			t.Fatal("the server accepted a message")
		}
	})
}

func TestWorkerAbandonsAtOnceOnPermanentFailure(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		srv := startMailServer(t)
		srv.Refuse(func(cmd, arg string) *smtp.SMTPError {
			if cmd == "RCPT" && arg == "user3@example.com" {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
			}
			return nil
		})
		sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
		msgs := queueEmails(t, st, 6)

		stop := run(courier.NewWorker(st, courier.Config{Email: sender}, fastOptions(clock)))
		waitFor(t, "all messages done", 10*time.Second, func() bool {
			c := countStates(t, st)
			return c[usher.MessageSent] == 5 && c[usher.MessageAbandoned] == 1
		})
		stop()
		for _, m := range messages(t, st) {
			if m.To != "user3@example.com" {
				continue
			}
			if m.Attempts != 1 || !strings.Contains(m.LastError, "550") || !strings.Contains(m.LastError, "no such user") || !strings.HasPrefix(m.LastError, "permanent failure") {
				t.Errorf("abandoned message: attempts %d, last error %q", m.Attempts, m.LastError)
			}
			t.Logf("last error: %s", m.LastError)
		}
		checkDeliveredOnce(t, srv, sender, append(msgs[:3:3], msgs[4:]...))
	})
}

// countingSender counts the messages a worker sent.
type countingSender struct {
	courier.Sender
	n atomic.Int64
}

func (c *countingSender) Send(ctx context.Context, m usher.Message) error {
	err := c.Sender.Send(ctx, m)
	if err == nil {
		c.n.Add(1)
	}
	return err
}

func TestReplicasNeverSendAMessageTwice(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		srv := startMailServer(t)
		srv.delay = time.Millisecond // let the workers overlap
		msgs := queueEmails(t, st, 120)

		var stops []func()
		var senders []*countingSender
		var first *courier.SMTPSender
		for range 3 {
			// Each replica has its own sender and connections.
			s := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
			if first == nil {
				first = s
			}
			cs := &countingSender{Sender: s}
			senders = append(senders, cs)
			o := fastOptions(clock)
			o.Batch = 8
			stops = append(stops, run(courier.NewWorker(st, courier.Config{Email: cs}, o)))
		}
		waitFor(t, "all messages sent", 20*time.Second, allSent(t, st, len(msgs)))
		for _, stop := range stops {
			stop()
		}
		checkDeliveredOnce(t, srv, first, msgs)
		var shares []int64
		for _, s := range senders {
			shares = append(shares, s.n.Load())
		}
		t.Logf("messages sent per replica: %v", shares)
	})
}

func TestWorkerStoppedMidRunLosesNothing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		srv := startMailServer(t)
		srv.delay = 3 * time.Millisecond
		msgs := queueEmails(t, st, 60)
		sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)

		stop := run(courier.NewWorker(st, courier.Config{Email: sender}, fastOptions(clock)))
		waitFor(t, "some messages delivered", 10*time.Second, func() bool { return srv.Count() >= 10 })
		stop() // cancel mid-run: deliveries under way finish and are recorded
		c := countStates(t, st)
		if c[usher.MessageSent] != srv.Count() || c[usher.MessageSent] == len(msgs) {
			t.Fatalf("after stopping: %v, server has %d: want every delivery recorded and some left", c, srv.Count())
		}
		t.Logf("stopped with %d of %d sent", c[usher.MessageSent], len(msgs))
		// The messages it had claimed but not sent are due again at once, not after the lease.
		for _, m := range messages(t, st) {
			if m.State == usher.MessageQueued && m.NextAttempt.After(clock.Now()) {
				t.Errorf("message %s left for later (%v)", m.To, m.NextAttempt)
			}
		}

		restarted := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
		stop = run(courier.NewWorker(st, courier.Config{Email: restarted}, fastOptions(clock)))
		waitFor(t, "all messages sent", 10*time.Second, allSent(t, st, len(msgs)))
		stop()
		checkDeliveredOnce(t, srv, sender, msgs)
	})
}

func TestMessagesOfADeadWorkerAreSentAfterTheLease(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		srv := startMailServer(t)
		msgs := queueEmails(t, st, 5)
		// A replica claims the messages and dies.
		err := st.Write(context.Background(), func(tx *store.Tx) error {
			got, err := tx.ClaimMessages(context.Background(), "dead replica", 10, 2*time.Minute, []string{usher.ChannelEmail})
			if len(got) != len(msgs) {
				return fmt.Errorf("claimed %d", len(got))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
		w := courier.NewWorker(st, courier.Config{Email: sender}, fastOptions(clock))
		if n, err := w.RunOnce(context.Background()); n != 0 || err != nil {
			t.Fatalf("claimed %d leased messages (%v)", n, err)
		}
		clock.Advance(2*time.Minute + time.Second)
		if n, err := w.RunOnce(context.Background()); n != len(msgs) || err != nil {
			t.Fatalf("claimed %d of %d expired leases (%v)", n, len(msgs), err)
		}
		checkDeliveredOnce(t, srv, sender, msgs)
		for _, m := range messages(t, st) {
			if m.State != usher.MessageSent || m.Attempts != 2 {
				t.Errorf("message %s: %s after %d attempts, want sent after 2", m.To, m.State, m.Attempts)
			}
		}
	})
}

// A message whose every attempt was claimed and never ended (each sending
// took its replica down) is abandoned, not sent, at the claim after the
// last: it would otherwise be claimed again for ever.
func TestMessagesWhoseAttemptsNeverEndAreAbandoned(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		srv := startMailServer(t)
		msgs := queueEmails(t, st, 2)
		o := fastOptions(clock)
		o.MaxAttempts = 3
		// Three replicas in turn claim the messages and die.
		for i := range 3 {
			err := st.Write(context.Background(), func(tx *store.Tx) error {
				got, err := tx.ClaimMessages(context.Background(), fmt.Sprintf("dead %d", i), 10, 2*time.Minute, []string{usher.ChannelEmail})
				if err == nil && len(got) != len(msgs) {
					err = fmt.Errorf("claim %d: %d messages", i, len(got))
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(2*time.Minute + time.Second)
		}
		sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
		w := courier.NewWorker(st, courier.Config{Email: sender}, o)
		if n, err := w.RunOnce(context.Background()); n != len(msgs) || err != nil {
			t.Fatalf("claimed %d (%v)", n, err)
		}
		if srv.Count() != 0 {
			t.Errorf("%d sent", srv.Count())
		}
		for _, m := range messages(t, st) {
			if m.State != usher.MessageAbandoned || m.LastError != "gave up after 3 attempts: the last never ended" {
				t.Errorf("message %s: %s, %q", m.To, m.State, m.LastError)
			}
		}
	})
}

// lostAck sends, then reports a failure once per message: what the worker
// sees when the process dies between the send and recording it.
type lostAck struct {
	courier.Sender
	mu   sync.Mutex
	seen map[string]bool
}

func (l *lostAck) Send(ctx context.Context, m usher.Message) error {
	if err := l.Sender.Send(ctx, m); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[m.ID] {
		return nil
	}
	l.seen[m.ID] = true
	return errors.New("connection lost before the outcome was recorded")
}

func TestAResentEmailKeepsItsMessageID(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		srv := startMailServer(t)
		msgs := queueEmails(t, st, 4)
		sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
		w := courier.NewWorker(st, courier.Config{Email: &lostAck{Sender: sender, seen: map[string]bool{}}}, fastOptions(clock))
		for range 2 {
			if _, err := w.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Hour)
		}
		got := srv.byRecipient()
		for _, m := range msgs {
			rs := got[m.To]
			if len(rs) != 2 || rs[0].MessageID != rs[1].MessageID || rs[0].MessageID != sender.MessageID(m.ID) {
				t.Errorf("%s: %d copies, want 2 with the Message-ID %s: %+v", m.To, len(rs), sender.MessageID(m.ID), rs)
			}
		}
		if c := countStates(t, st); c[usher.MessageSent] != len(msgs) {
			t.Errorf("states %v", c)
		}
	})
}

func TestWorkerLeavesUnconfiguredChannelsQueued(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		srv := startMailServer(t)
		emails := queueEmails(t, st, 3)
		sms := []usher.Message{
			{Kind: "invitation", Channel: usher.ChannelSMS, To: "+31612345678", Language: "nl", Body: "Je code: 123456"},
			{Kind: "invitation", Channel: usher.ChannelSMS, To: "+31612345679", Language: "nl", Body: "Je code: 654321"},
		}
		queue(t, st, sms)
		sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
		o := fastOptions(clock)
		o.MaxAttempts = 2
		w := courier.NewWorker(st, courier.Config{Email: sender}, o)
		for range 6 { // more rounds than MaxAttempts
			if _, err := w.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
		}
		checkDeliveredOnce(t, srv, sender, emails)
		for _, m := range messages(t, st) {
			if m.Channel != usher.ChannelSMS {
				continue
			}
			if m.State != usher.MessageQueued || m.Attempts != 0 || m.SentAt != nil {
				t.Errorf("SMS %s: state %s, %d attempts; want still queued and untouched", m.To, m.State, m.Attempts)
			}
		}
	})
}

func TestWakeStartsAPassAtOnce(t *testing.T) {
	t.Parallel()
	clock := newClock()
	st := openSQLite(t, clock)
	srv := startMailServer(t)
	sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
	o := fastOptions(clock)
	o.Poll = time.Hour
	w := courier.NewWorker(st, courier.Config{Email: sender}, o)
	stop := run(w)
	defer stop()
	time.Sleep(20 * time.Millisecond) // the first pass found nothing; the next poll is an hour away
	msgs := queueEmails(t, st, 1)
	w.Wake()
	waitFor(t, "the message sent", 5*time.Second, allSent(t, st, 1))
	checkDeliveredOnce(t, srv, sender, msgs)
}

func TestWorkerSurvivesAPanickingSender(t *testing.T) {
	t.Parallel()
	clock := newClock()
	st := openSQLite(t, clock)
	queue(t, st, []usher.Message{{Kind: "invitation", Channel: usher.ChannelSMS, To: "+31612345678", Language: "nl", Body: "x"}})
	w := courier.NewWorker(st, courier.Config{SMS: panicSender{}}, fastOptions(clock))
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, m := range messages(t, st) {
		if m.State != usher.MessageQueued || !strings.Contains(m.LastError, "panicked") {
			t.Errorf("state %s, last error %q", m.State, m.LastError)
		}
	}
}

type panicSender struct{}

func (panicSender) Send(context.Context, usher.Message) error { panic("boom") }

func TestLastErrorIsBounded(t *testing.T) {
	t.Parallel()
	clock := newClock()
	st := openSQLite(t, clock)
	queue(t, st, []usher.Message{{Kind: "invitation", Channel: usher.ChannelSMS, To: "+31612345678", Language: "nl", Body: "x"}})
	long := strings.Repeat("é", 2000)
	w := courier.NewWorker(st, courier.Config{SMS: errSender{errors.New("line one\nline two " + long)}}, fastOptions(clock))
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, m := range messages(t, st) {
		if len(m.LastError) > 500 || strings.Contains(m.LastError, "\n") || !strings.HasPrefix(m.LastError, "line one line two é") || !strings.HasSuffix(m.LastError, "…") {
			t.Errorf("last error of %d bytes: %.60q…", len(m.LastError), m.LastError)
		}
	}
}

type errSender struct{ err error }

func (e errSender) Send(context.Context, usher.Message) error { return e.err }

// slowSender takes d per message, or until its context ends, and notes
// the deadlines it is given.
type slowSender struct {
	d         time.Duration
	mu        sync.Mutex
	sent      []string
	deadlines []time.Time
}

func (s *slowSender) Send(ctx context.Context, m usher.Message) error {
	dl, _ := ctx.Deadline()
	s.mu.Lock()
	s.deadlines = append(s.deadlines, dl)
	s.mu.Unlock()
	select {
	case <-time.After(s.d):
		s.mu.Lock()
		s.sent = append(s.sent, m.To)
		s.mu.Unlock()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("slow: %w", ctx.Err())
	}
}

func TestWorkerNeverSendsPastItsLease(t *testing.T) {
	t.Parallel()
	clock := newClock()
	st := openSQLite(t, clock)
	var msgs []usher.Message
	for i := range 6 {
		msgs = append(msgs, usher.Message{Kind: "invitation", Channel: usher.ChannelSMS, To: fmt.Sprintf("+3160000000%d", i), Language: "nl", Body: "x"})
	}
	queue(t, st, msgs)
	// Sends must end by 3/4 of the 800ms lease; each takes 300ms, one at a
	// time: not all of them fit.
	s := &slowSender{d: 300 * time.Millisecond}
	o := fastOptions(clock)
	o.Lease, o.Concurrency = 800*time.Millisecond, 1
	w := courier.NewWorker(st, courier.Config{SMS: s}, o)
	start := time.Now()
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, dl := range s.deadlines {
		if dl.IsZero() || dl.After(start.Add(600*time.Millisecond+50*time.Millisecond)) {
			t.Errorf("a send had the deadline %v, after 3/4 of the lease", dl.Sub(start))
		}
	}
	sent, cutOff, putBack := 0, 0, 0
	for _, m := range messages(t, st) {
		switch {
		case m.State == usher.MessageSent:
			sent++
		case m.State == usher.MessageQueued && strings.Contains(m.LastError, "deadline exceeded") && m.NextAttempt.After(clock.Now()):
			cutOff++ // retried later
		case m.State == usher.MessageQueued && m.LastError == "" && m.NextAttempt.Equal(clock.Now()):
			putBack++ // not started: due again at once
		default:
			t.Errorf("%s: %s, %q, due %v", m.To, m.State, m.LastError, m.NextAttempt)
		}
	}
	if sent != len(s.sent) || sent >= len(msgs) || putBack == 0 || sent+cutOff+putBack != len(msgs) {
		t.Errorf("sent %d (sender says %d), cut off %d, put back %d of %d", sent, len(s.sent), cutOff, putBack, len(msgs))
	}
}

// writeCounter is a store that counts the transactions asked of it.
type writeCounter struct {
	*store.Store
	writes atomic.Int32
}

func (c *writeCounter) Write(ctx context.Context, fn func(*store.Tx) error) error {
	c.writes.Add(1)
	return c.Store.Write(ctx, fn)
}

// With no sender configured a pass claims nothing, so it opens no
// transaction: the worker is woken after every message queued, and each
// empty transaction would take the database's writer.
func TestWorkerWithoutSendersOpensNoTransaction(t *testing.T) {
	t.Parallel()
	clock := newClock()
	st := &writeCounter{Store: openSQLite(t, clock)}
	queueEmails(t, st.Store, 2)
	w := courier.NewWorker(st, courier.Config{}, fastOptions(clock))
	for range 3 {
		if n, err := w.RunOnce(context.Background()); n != 0 || err != nil {
			t.Fatalf("RunOnce without senders: %d claimed, %v", n, err)
		}
	}
	if n := st.writes.Load(); n != 0 {
		t.Errorf("%d transactions without senders; want none", n)
	}
	for _, m := range messages(t, st.Store) {
		if m.State != usher.MessageQueued || m.Attempts != 0 {
			t.Errorf("%s: state %s, %d attempts; want queued and untouched", m.To, m.State, m.Attempts)
		}
	}
	// With a sender the same worker's passes do claim: the count above
	// is not one that never moves.
	srv := startMailServer(t)
	sender := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
	w = courier.NewWorker(st, courier.Config{Email: sender}, fastOptions(clock))
	if n, err := w.RunOnce(context.Background()); n != 2 || err != nil {
		t.Fatalf("RunOnce with a sender: %d claimed, %v; want 2", n, err)
	}
	if st.writes.Load() == 0 {
		t.Error("a pass with a sender opened no transaction")
	}
}
