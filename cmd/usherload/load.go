package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// requestMaker builds one request and the check of its 2xx answer. It is
// called from many workers at once; rng is the worker's own.
type requestMaker func(rng *rand.Rand) (*request, error)

// loader runs phases and remembers which accounts exist.
type loader struct {
	api       *api
	mon       *monitor // nil without --pid
	cpu       cpuProbe
	maxErrors int
	logf      func(string, ...any)

	scimAuth string // "Bearer …" of the tenant's scim token, in --mode scim

	noWriter sync.Once // logs once that the server's writer metrics are not there

	seq     atomic.Int64 // last email number handed out
	mu      sync.Mutex
	created []int64 // email numbers of created accounts
}

func email(n int64) string { return "u" + strconv.FormatInt(n, 10) + "@load.example" }

func (l *loader) accountCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.created)
}

// create posts a new person and account, with a flat body and a fresh email.
func (l *loader) create(slug string) requestMaker {
	target := l.api.baseURL.Path + "/api/v1/tenants/" + url.PathEscape(slug) + "/accounts"
	return func(*rand.Rand) (*request, error) {
		n := l.seq.Add(1)
		b := make([]byte, 0, 96)
		b = append(b, `{"first_name":"Load","last_name":"User`...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, `","email":"`...)
		b = append(b, email(n)...)
		b = append(b, `"}`...)
		return &request{method: "POST", target: target, body: b, check: func(status int, _ []byte) bool {
			if status != http.StatusCreated {
				return false
			}
			l.mu.Lock()
			l.created = append(l.created, n)
			l.mu.Unlock()
			return true
		}}, nil
	}
}

// lookup finds a random existing account by its email, and checks that the
// answer holds it (a search of the raw answer, not a JSON decoding).
func (l *loader) lookup(slug string) requestMaker {
	l.mu.Lock()
	known := slices.Clone(l.created)
	l.mu.Unlock()
	target := l.api.baseURL.Path + "/api/v1/tenants/" + url.PathEscape(slug) + "/accounts?login="
	return func(rng *rand.Rand) (*request, error) {
		if len(known) == 0 {
			return nil, fmt.Errorf("no accounts to look up")
		}
		e := email(known[rng.IntN(len(known))])
		want := []byte(`"email":"` + e + `"`)
		return &request{method: "GET", target: target + url.QueryEscape(e), check: func(status int, body []byte) bool {
			return status == http.StatusOK && bytes.Contains(body, want)
		}}, nil
	}
}

// run sends up to n requests from conc workers, stopping early after dur
// (when not 0) or when ctx ends. Requests in flight at the deadline finish.
func (l *loader) run(ctx context.Context, name string, conc, n int, dur time.Duration, mk requestMaker) result {
	res := result{Phase: name, Concurrency: conc, Status: map[string]int{}}
	clients := l.warm(ctx, conc)
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()

	var (
		next     atomic.Int64
		mu       sync.Mutex
		lats     []time.Duration
		samples  []string
		non2xx   int
		failed   int
		mismatch int
		wg       sync.WaitGroup
	)
	status := map[int]int{}
	var deadline time.Time
	if dur > 0 {
		deadline = time.Now().Add(dur)
	}
	sample := func(s string) {
		if len(samples) < l.maxErrors {
			samples = append(samples, s)
		}
	}
	if l.mon != nil {
		l.mon.startPhase()
	}
	w0, wOK := l.writer(ctx)
	speed := startSpeedProbe()
	cpu0 := l.cpu.take()
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := clients[w]
			rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(w)))
			my := make([]time.Duration, 0, min(n/conc+1, 1<<16))
			myStatus := map[int]int{}
			var buf bytes.Buffer
			var myNon, myFail, myMis int
			defer func() {
				mu.Lock()
				lats = append(lats, my...)
				for k, v := range myStatus {
					status[k] += v
				}
				non2xx += myNon
				failed += myFail
				mismatch += myMis
				mu.Unlock()
			}()
			for ctx.Err() == nil && next.Add(1) <= int64(n) {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				req, err := mk(rng)
				if err != nil {
					myFail++
					mu.Lock()
					sample("request: " + err.Error())
					mu.Unlock()
					continue
				}
				t0 := time.Now()
				code, err := client.do(ctx, req, &buf)
				lat := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return // interrupted: not the server's failure
					}
					myFail++
					mu.Lock()
					sample(err.Error())
					mu.Unlock()
					continue
				}
				my = append(my, lat)
				myStatus[code]++
				switch {
				case (code < 200 || code > 299) && !(req.redirect && code == http.StatusSeeOther):
					myNon++
					mu.Lock()
					sample(fmt.Sprintf("%s %d: %s", req.method, code, truncate(buf.String(), 400)))
					mu.Unlock()
				case !req.check(code, buf.Bytes()):
					myMis++
					mu.Lock()
					sample(fmt.Sprintf("%s %d, unexpected answer: %s", req.method, code, truncate(buf.String(), 400)))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Speed = speed.end()

	res.Seconds = elapsed.Seconds()
	res.Requests = len(lats) + failed
	res.Non2xx, res.Failed, res.Mismatch = non2xx, failed, mismatch
	res.OK = len(lats) - non2xx - mismatch
	for k, v := range status {
		res.Status[strconv.Itoa(k)] = v
	}
	if res.Seconds > 0 {
		res.PerSecond = float64(res.OK) / res.Seconds
	}
	res.Latency = summarize(lats)
	res.ErrorSamples = samples
	split := l.cpu.take().since(cpu0, elapsed, res.Requests)
	// Read even when the phase ended with ctx's deadline.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if w1, ok := l.writer(wctx); ok && wOK {
		res.Writer = w1.since(w0, elapsed.Seconds())
	}
	res.CPU = &split
	if l.mon != nil {
		res.PeakRSSMB = l.mon.endPhase()
	}
	return res
}

// warm opens a keep-alive connection per worker with a health check, so a
// level's first requests do not pay for connecting.
func (l *loader) warm(ctx context.Context, conc int) []*rawClient {
	clients := make([]*rawClient, conc)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = &rawClient{api: l.api, timeout: l.api.timeout}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			clients[i].do(ctx, &request{method: "GET", target: l.api.baseURL.Path + "/healthz"}, &buf)
		}()
	}
	wg.Wait()
	return clients
}

// latency is a summary of request latencies, in milliseconds.
type latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

func summarize(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	ms := func(v time.Duration) float64 { return float64(v) / float64(time.Millisecond) }
	return latency{
		Mean: ms(sum / time.Duration(len(d))),
		P50:  ms(percentile(d, 50)),
		P90:  ms(percentile(d, 90)),
		P99:  ms(percentile(d, 99)),
		P999: ms(percentile(d, 99.9)),
		Max:  ms(d[len(d)-1]),
	}
}

// percentile is the nearest-rank percentile of sorted d.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p*float64(len(sorted))/100 - 1e-9))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// writer reads the server's writer counters; without them (an older
// server, or /metrics not reachable) phases report no writer figures.
func (l *loader) writer(ctx context.Context) (writerCounters, bool) {
	c, err := l.api.readWriter(ctx)
	if err != nil {
		l.noWriter.Do(func() { l.logf("no writer figures: %v", err) })
		return c, false
	}
	return c, true
}
