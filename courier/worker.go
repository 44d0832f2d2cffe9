package courier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// Store is the part of the store the worker uses; *store.Store is one.
type Store interface {
	Write(ctx context.Context, fn func(*store.Tx) error) error
}

// Options tune a Worker. Zero values take the defaults in brackets.
type Options struct {
	// Now is the clock [time.Now]. Use the store's clock: the backoff is
	// computed with it and compared with the store's "now" when claiming.
	Now func() time.Time
	// Poll is the wait between passes when nothing is due [1s].
	Poll time.Duration
	// Lease is how long a claimed message is reserved for this worker
	// [2m]. Every send ends by three quarters of it, so that a message is
	// never sent by two replicas at once.
	Lease time.Duration
	// Batch is the number of messages claimed at a time [16].
	Batch int
	// Concurrency is the number of messages sent at once [4].
	Concurrency int
	// MaxAttempts is the number of attempts after which a message that
	// still fails is abandoned [8]. Every claim counts as an attempt.
	MaxAttempts int
	// MinBackoff is the wait after the first failed attempt [30s]; it
	// doubles with each further attempt up to MaxBackoff [1h], less a
	// random jitter of up to 20%.
	MinBackoff, MaxBackoff time.Duration
	// SendTimeout bounds one delivery [30s].
	SendTimeout time.Duration
	// Log receives failures and abandonments [discarded].
	Log *slog.Logger
	// Compose writes out a message stored as what it says
	// (usher.Message.Data) before it is sent: provision.Service.Compose.
	// Its errors are retried unless marked Permanent. Without it such a
	// message fails as a permanent error.
	Compose func(context.Context, usher.Message) (usher.Message, error)
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Poll, time.Second)
	def(&o.Lease, 2*time.Minute)
	def(&o.MinBackoff, 30*time.Second)
	def(&o.MaxBackoff, time.Hour)
	def(&o.SendTimeout, 30*time.Second)
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Worker delivers the outbox of every tenant. Run one per replica.
//
// Messages of a channel that has no Sender in the Config are not claimed:
// they stay queued, readable by administrators, and go out once a sender
// for their channel is configured.
type Worker struct {
	st   Store
	cfg  Config
	o    Options
	wake chan struct{}
	rand func() float64
	// owner names this worker's leases: what it records of a message is
	// only recorded while the message is still its own.
	owner string
}

// NewWorker returns a worker that delivers the messages in st with the
// senders of cfg.
func NewWorker(st Store, cfg Config, o Options) *Worker {
	o.defaults()
	return &Worker{st: st, cfg: cfg, o: o, wake: make(chan struct{}, 1), rand: rand.Float64, owner: "courier-" + store.NewID()}
}

// Wake makes a running worker start a pass now instead of at its next
// poll: call it after queueing a message. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers messages until ctx ends. A full batch is followed at once
// by the next; otherwise the worker waits Poll or until Wake. When ctx
// ends, Run starts no new delivery, lets those under way finish (each
// within SendTimeout) and records their outcome, puts the messages it
// claimed but did not start back in the queue, and returns. A process
// that dies instead loses nothing either: its claimed messages are sent
// again when their lease runs out.
func (w *Worker) Run(ctx context.Context) {
	wait := w.o.Poll
	for {
		n, err := w.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			// The database is likely unavailable: back off up to 30s.
			wait = min(2*wait, max(30*time.Second, w.o.Poll))
			w.o.Log.Error("courier: delivery pass failed", "err", err, "retry_in", wait)
		case n == w.o.Batch:
			wait = w.o.Poll
			continue // more may be due
		default:
			wait = w.o.Poll
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// RunOnce makes one pass: it claims up to Batch due messages, delivers
// them and records each outcome. It returns the number of messages
// claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	channels := w.cfg.Channels()
	if len(channels) == 0 {
		// Nothing can be claimed: no transaction. The worker is woken after
		// every queued message, and an empty one would still take SQLite's
		// writer or a PostgreSQL connection each time.
		return 0, nil
	}
	// Every send ends well before the lease does, or another replica
	// could claim and send the message while this one still is. (The
	// lease is in the store's time; this deadline is on the wall clock,
	// which contexts use, taken before the claim to err on the safe side.)
	sendBy := time.Now().Add(w.o.Lease - w.o.Lease/4)
	minWindow := min(time.Second, w.o.Lease/8)
	var msgs []usher.Message
	err := w.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		msgs, err = tx.ClaimMessages(ctx, w.owner, w.o.Batch, w.o.Lease, channels)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("claim messages: %w", err)
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	var (
		wg      sync.WaitGroup
		sem     = make(chan struct{}, w.o.Concurrency)
		release []string
	)
	for _, m := range msgs {
		if m.Attempts > w.o.MaxAttempts {
			// Its last attempt was claimed and never ended (the sending took
			// its process down, or never returned): not once more.
			w.abandon(ctx, m)
			continue
		}
		s := w.cfg.Sender(m.Channel)
		if s == nil {
			release = append(release, m.ID) // configuration changed under us
			continue
		}
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
		if ctx.Err() != nil || time.Until(sendBy) < minWindow {
			// Stopping, or too little time left in the lease: let it go
			// now rather than hold it until the lease runs out.
			if acquired {
				<-sem
			}
			release = append(release, m.ID)
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.deliver(ctx, s, m, sendBy)
		}()
	}
	wg.Wait()
	if len(release) > 0 {
		w.release(ctx, release)
	}
	return len(msgs), nil
}

// abandon gives up a message whose attempts never ended.
func (w *Worker) abandon(ctx context.Context, m usher.Message) {
	lastErr := fmt.Sprintf("gave up after %d attempts: the last never ended", m.Attempts-1)
	w.o.Log.Warn("courier: message abandoned", "message_id", m.ID, "tenant_id", m.TenantID, "err", lastErr)
	err := w.write(ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.MarkFailed(ctx, m.ID, w.owner, lastErr, nil)
	})
	if err != nil {
		w.o.Log.Error("courier: cannot abandon message", "message_id", m.ID, "err", err)
	}
}

// release gives claimed messages that were not tried back to the queue,
// due at once and without counting the claim as an attempt.
func (w *Worker) release(ctx context.Context, ids []string) {
	err := w.write(ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.ReleaseMessages(ctx, w.owner, ids)
	})
	if err != nil {
		// The leases run out and the messages are claimed again.
		w.o.Log.Error("courier: cannot release messages", "count", len(ids), "err", err)
	}
}

// deliver sends m and records the outcome. The send is not interrupted
// when ctx ends (its own deadline bounds it), so that what was sent is
// recorded as sent.
func (w *Worker) deliver(ctx context.Context, s Sender, m usher.Message, sendBy time.Time) {
	deadline := time.Now().Add(w.o.SendTimeout)
	if sendBy.Before(deadline) {
		deadline = sendBy
	}
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	m, err := w.compose(sctx, m)
	if err == nil {
		err = send(sctx, s, m)
	}
	cancel()
	log := w.o.Log.With("message_id", m.ID, "tenant_id", m.TenantID, "channel", m.Channel, "kind", m.Kind, "attempt", m.Attempts)

	var (
		lastErr string
		retryAt *time.Time
	)
	switch {
	case err == nil:
	case IsPermanent(err):
		lastErr = errorText("permanent failure: " + err.Error())
		log.Warn("courier: message abandoned", "err", lastErr)
	case m.Attempts >= w.o.MaxAttempts:
		lastErr = errorText(fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, err))
		log.Warn("courier: message abandoned", "err", lastErr)
	default:
		lastErr = errorText(err.Error())
		at := w.o.Now().Add(w.backoff(m.Attempts, err))
		retryAt = &at
		log.Info("courier: delivery failed, will retry", "err", lastErr, "retry_at", at)
	}
	werr := w.write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err == nil {
			return tx.MarkSent(ctx, m)
		}
		return tx.MarkFailed(ctx, m.ID, w.owner, lastErr, retryAt)
	})
	if werr != nil {
		// The lease runs out and the message is sent again (at least once).
		log.Error("courier: cannot record delivery outcome", "sent", err == nil, "err", werr)
	}
}

// compose writes m out when it is stored as what it says. A failure is
// retried like a failed send: the tenant's database row may be back soon.
func (w *Worker) compose(ctx context.Context, m usher.Message) (_ usher.Message, err error) {
	if m.Data == "" {
		return m, nil
	}
	if w.o.Compose == nil {
		return m, Permanent(errors.New("the message is stored as data and the worker has no Compose"))
	}
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("compose panicked: %v", p))
		}
	}()
	return w.o.Compose(ctx, m)
}

// send calls s, turning a panic into an error so that one bad message
// cannot stop the worker.
func send(ctx context.Context, s Sender, m usher.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sender panicked: %v", p)
		}
	}()
	return s.Send(ctx, m)
}

// write records outcomes even after ctx ended (they describe what already
// happened), retrying briefly when the database fails. fn gets the context
// to use.
func (w *Worker) write(ctx context.Context, fn func(context.Context, *store.Tx) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var err error
	for _, pause := range []time.Duration{100 * time.Millisecond, time.Second, 0} {
		if err = w.st.Write(ctx, func(tx *store.Tx) error { return fn(ctx, tx) }); err == nil || ctx.Err() != nil {
			return err
		}
		if pause > 0 {
			time.Sleep(pause)
		}
	}
	return err
}

// backoff is the wait after failed attempt number attempt (1 for the
// first): MinBackoff doubled for each further attempt, at most MaxBackoff,
// less up to 20% jitter so that messages that failed together do not all
// come back at once; never less than a RetryAfter the sender reported.
func (w *Worker) backoff(attempt int, err error) time.Duration {
	d := w.o.MinBackoff
	for i := 1; i < attempt && d < w.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.o.MaxBackoff)
	d -= time.Duration(w.rand() * 0.2 * float64(d))
	if ra, ok := retryAfter(err); ok && ra > d {
		d = min(ra, w.o.MaxBackoff)
	}
	return d
}

var _ Store = (*store.Store)(nil)
