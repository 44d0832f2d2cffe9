package courier_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/courier"
	"github.com/usherhq/usher/store"
)

// twilioAPI is a local server speaking the shape of Twilio's Messages API.
type twilioAPI struct {
	t           *testing.T
	sid, token  string
	mu          sync.Mutex
	sent        []map[string]string // form fields of accepted messages
	unavailable map[string]int      // To -> number of 503 answers still to give
}

func newTwilioAPI(t *testing.T) (*twilioAPI, *httptest.Server) {
	api := &twilioAPI{t: t, sid: "AC0123456789abcdef0123456789abcdef", token: "tw-secret-token", unavailable: map[string]int{}}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return api, srv
}

func (a *twilioAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status, code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), "status": status})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+a.sid+"/Messages.json" {
		fail(404, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != a.sid || pass != a.token {
		fail(401, 20003, "Authenticate")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		a.t.Errorf("Content-Type %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		fail(400, 21601, "bad form")
		return
	}
	to := r.PostForm.Get("To")
	if (r.PostForm.Get("From") == "") == (r.PostForm.Get("MessagingServiceSid") == "") {
		fail(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case to == "+15005550001":
		fail(400, 21211, "The 'To' number "+to+" is not a valid phone number.")
		return
	case a.unavailable[to] > 0:
		a.unavailable[to]--
		w.Header().Set("Retry-After", "120")
		fail(503, 20503, "Service unavailable")
		return
	}
	fields := map[string]string{}
	for k := range r.PostForm {
		fields[k] = r.PostForm.Get(k)
	}
	a.sent = append(a.sent, fields)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(map[string]any{"sid": "SM" + strings.Repeat("0", 32), "status": "queued", "to": to})
}

func (a *twilioAPI) Sent() []map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]map[string]string(nil), a.sent...)
}

func sms(to, body string) usher.Message {
	return usher.Message{ID: "0195a1b2-0000-7000-8000-0000000000a1", TenantID: tenant, Kind: "invitation", Channel: usher.ChannelSMS, To: to, Language: "nl", Body: body}
}

func TestTwilioSender(t *testing.T) {
	t.Parallel()
	api, srv := newTwilioAPI(t)
	s, err := courier.NewTwilioSender(courier.TwilioConfig{AccountSID: api.sid, AuthToken: api.token, From: "+15005550006", BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Send(ctx, sms("+31612345678", "Je code: 123456")); err != nil {
		t.Fatal(err)
	}
	got := api.Sent()
	if len(got) != 1 || got[0]["To"] != "+31612345678" || got[0]["From"] != "+15005550006" || got[0]["Body"] != "Je code: 123456" {
		t.Fatalf("Twilio got %v", got)
	}

	err = s.Send(ctx, sms("+15005550001", "x"))
	if !courier.IsPermanent(err) || !strings.Contains(err.Error(), "21211") || !strings.Contains(err.Error(), "not a valid phone number") {
		t.Fatalf("invalid number: got %v, want a permanent error with Twilio's code and message", err)
	}

	api.unavailable["+31600000000"] = 1
	err = s.Send(ctx, sms("+31600000000", "x"))
	if err == nil || courier.IsPermanent(err) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("503: got %v, want a temporary error", err)
	}

	wrong, _ := courier.NewTwilioSender(courier.TwilioConfig{AccountSID: api.sid, AuthToken: "wrong-token", From: "+15005550006", BaseURL: srv.URL})
	err = wrong.Send(ctx, sms("+31612345678", "x"))
	if err == nil || courier.IsPermanent(err) || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-token") {
		t.Fatalf("wrong token: got %v, want a temporary 401 without the token", err)
	}

	mg, _ := courier.NewTwilioSender(courier.TwilioConfig{AccountSID: api.sid, AuthToken: api.token, From: "MG0123456789abcdef0123456789abcdef", BaseURL: srv.URL + "/"})
	if err := mg.Send(ctx, sms("+31612345678", "via service")); err != nil {
		t.Fatal(err)
	}
	if last := api.Sent()[1]; last["MessagingServiceSid"] != "MG0123456789abcdef0123456789abcdef" || last["From"] != "" {
		t.Fatalf("messaging service: got %v", last)
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	gone, _ := courier.NewTwilioSender(courier.TwilioConfig{AccountSID: api.sid, AuthToken: api.token, From: "+15005550006", BaseURL: down.URL})
	if err := gone.Send(ctx, sms("+31612345678", "x")); err == nil || courier.IsPermanent(err) {
		t.Fatalf("unreachable API: got %v, want a temporary error", err)
	}
	if !strings.Contains(s.String(), api.sid) || strings.Contains(s.String(), api.token) {
		t.Errorf("String() = %q", s.String())
	}
}

func TestWorkerDeliversSMSThroughTwilio(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func(func() time.Time) *store.Store) {
		clock := newClock()
		st := open(clock.Now)
		api, srv := newTwilioAPI(t)
		api.unavailable["+31600000003"] = 1
		s, err := courier.NewTwilioSender(courier.TwilioConfig{AccountSID: api.sid, AuthToken: api.token, From: "+15005550006", BaseURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		msgs := []usher.Message{
			{Kind: "invitation", Channel: usher.ChannelSMS, To: "+31600000001", Language: "nl", Body: "Je code: 111111"},
			{Kind: "invitation", Channel: usher.ChannelSMS, To: "+15005550001", Language: "en", Body: "Your code: 222222"},
			{Kind: "invitation", Channel: usher.ChannelSMS, To: "+31600000003", Language: "nl", Body: "Je code: 333333"},
		}
		queue(t, st, msgs)
		w := courier.NewWorker(st, courier.Config{SMS: s}, fastOptions(clock))
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := messages(t, st)
		if m := got[msgs[0].ID]; m.State != usher.MessageSent {
			t.Errorf("valid number: %s (%s)", m.State, m.LastError)
		}
		if m := got[msgs[1].ID]; m.State != usher.MessageAbandoned || m.Attempts != 1 || !strings.Contains(m.LastError, "21211") {
			t.Errorf("invalid number: %s after %d attempts (%s), want abandoned at once", m.State, m.Attempts, m.LastError)
		}
		// Twilio asked for 120s: more than the first backoff.
		if m := got[msgs[2].ID]; m.State != usher.MessageQueued || !m.NextAttempt.Equal(clock.Now().Add(120*time.Second)) || !strings.Contains(m.LastError, "503") {
			t.Errorf("unavailable: %s, next attempt %v after now, %q", m.State, m.NextAttempt.Sub(clock.Now()), m.LastError)
		}
		clock.Advance(2 * time.Minute)
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if m := messages(t, st)[msgs[2].ID]; m.State != usher.MessageSent || m.Attempts != 2 {
			t.Errorf("after Retry-After: %s after %d attempts", m.State, m.Attempts)
		}
		if n := len(api.Sent()); n != 2 {
			t.Errorf("Twilio accepted %d messages, want 2", n)
		}
	})
}

// webhookReceiver verifies usher's signature as a receiver would, without
// the courier package's code.
type webhookReceiver struct {
	t      *testing.T
	secret string
	now    func() time.Time
	mu     sync.Mutex
	got    []map[string]string
	keys   []string
}

func (h *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ts, sig string
	for _, part := range strings.Split(r.Header.Get("Usher-Signature"), ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	mac := hmac.New(sha256.New, []byte(h.secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := mac.Sum(nil)
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	unix, _ := strconv.ParseInt(ts, 10, 64)
	if d := h.now().Sub(time.Unix(unix, 0)); d > 5*time.Minute || d < -5*time.Minute {
		http.Error(w, "stale signature", http.StatusUnauthorized)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		h.t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	var p map[string]string
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if p["to"] == "+15005550001" {
		http.Error(w, `{"error":"invalid phone number"}`, http.StatusBadRequest)
		return
	}
	if p["to"] == "+31699999999" {
		http.Error(w, "upstream down", http.StatusBadGateway)
		return
	}
	h.mu.Lock()
	h.got = append(h.got, p)
	h.keys = append(h.keys, r.Header.Get("Idempotency-Key"))
	h.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func TestWebhookSender(t *testing.T) {
	t.Parallel()
	clock := newClock()
	const secret = "whsec_0123456789abcdef"
	recv := &webhookReceiver{t: t, secret: secret, now: clock.Now}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	s, err := courier.NewWebhookSender(courier.WebhookConfig{URL: srv.URL + "/sms?token=abc123", Secret: secret, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := sms("+31612345678", "Je code: 123456")
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"id": m.ID, "to": m.To, "body": m.Body, "tenant_id": tenant, "kind": "invitation", "language": "nl"}
	if len(recv.got) != 1 || len(recv.got[0]) != len(want) {
		t.Fatalf("received %v, want %v", recv.got, want)
	}
	for k, v := range want {
		if recv.got[0][k] != v {
			t.Errorf("%s: %q, want %q", k, recv.got[0][k], v)
		}
	}
	if recv.keys[0] != m.ID {
		t.Errorf("Idempotency-Key %q, want %q", recv.keys[0], m.ID)
	}

	if err := s.Send(ctx, sms("+15005550001", "x")); !courier.IsPermanent(err) || !strings.Contains(err.Error(), "400") {
		t.Errorf("invalid number: got %v, want permanent 400", err)
	}
	if err := s.Send(ctx, sms("+31699999999", "x")); err == nil || courier.IsPermanent(err) || !strings.Contains(err.Error(), "502") {
		t.Errorf("upstream down: got %v, want temporary 502", err)
	}
	wrong, _ := courier.NewWebhookSender(courier.WebhookConfig{URL: srv.URL + "/sms?token=abc123", Secret: "not-the-right-secret", Now: clock.Now})
	err = wrong.Send(ctx, m)
	if err == nil || courier.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong secret: got %v, want temporary 401", err)
	}
	// A signature from an hour ago is refused by the receiver: the timestamp is the sender's clock.
	late, _ := courier.NewWebhookSender(courier.WebhookConfig{URL: srv.URL, Secret: secret, Now: func() time.Time { return clock.Now().Add(-time.Hour) }})
	if err := late.Send(ctx, m); err == nil {
		t.Error("stale signature accepted")
	}
	srv.Close()
	err = s.Send(ctx, m)
	if err == nil || courier.IsPermanent(err) {
		t.Errorf("receiver down: got %v, want temporary", err)
	}
	for _, e := range []error{err} {
		if strings.Contains(e.Error(), "abc123") || strings.Contains(e.Error(), secret) {
			t.Errorf("error shows a secret: %v", e)
		}
	}
	if strings.Contains(s.String(), "abc123") {
		t.Errorf("String() = %q shows the token", s.String())
	}
	if sig := courier.WebhookSignature(secret, time.Unix(1700000000, 0), []byte(`{}`)); !strings.HasPrefix(sig, "t=1700000000,v1=") || len(sig) != len("t=1700000000,v1=")+64 {
		t.Errorf("signature %q", sig)
	}
}

func TestWebhookSenderRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []courier.WebhookConfig{
		{URL: "ftp://x", Secret: "0123456789abcdef"},
		{URL: "https://sms.example.com/hook", Secret: "short"},
		{URL: "", Secret: "0123456789abcdef"},
	} {
		if _, err := courier.NewWebhookSender(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
