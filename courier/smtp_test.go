package courier_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/courier"
)

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want courier.SMTPConfig
	}{
		{"smtp://apikey:s%3Acr%40t@mail.example.com?from=noreply@example.com",
			courier.SMTPConfig{Host: "mail.example.com", Port: 587, TLS: courier.TLSStartTLS, Username: "apikey", Password: "s:cr@t", From: "noreply@example.com"}},
		{"smtp://mail.example.com:2525?from=noreply@example.com&tls=opportunistic&timeout=5s&helo=usher.example.com",
			courier.SMTPConfig{Host: "mail.example.com", Port: 2525, TLS: courier.TLSOpportunistic, From: "noreply@example.com", Timeout: 5 * time.Second, HELO: "usher.example.com"}},
		{"smtps://u:p@mail.example.com?from=" + url.QueryEscape("Acme <noreply@example.com>") + "&auth=LOGIN",
			courier.SMTPConfig{Host: "mail.example.com", Port: 465, TLS: courier.TLSImplicit, Username: "u", Password: "p", From: "Acme <noreply@example.com>", Auth: "login"}},
		{"smtp+insecure://localhost",
			courier.SMTPConfig{Host: "localhost", Port: 25, TLS: courier.TLSNone}},
		{"smtp://relay.internal:25?tls=none&from=a@b.example",
			courier.SMTPConfig{Host: "relay.internal", Port: 25, TLS: courier.TLSNone, From: "a@b.example"}},
	} {
		got, err := courier.ParseSMTPURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.url, got, tc.want)
		}
	}
	for _, bad := range []string{
		"http://mail.example.com",
		"smtp://",
		"smtp://host:0",
		"smtp://host:99999",
		"smtp://user:hunter2@host?form=typo@example.com",
		"smtps://user:hunter2@host?tls=none",
		"smtp://user:hunter2@host?tls=implicit",
		"smtp://user:hunter2@host?timeout=soon",
		"smtp://user:hunter2@host/path",
		"smtp://user:hunter2@ho st",
	} {
		_, err := courier.ParseSMTPURL(bad)
		if err == nil {
			t.Errorf("%s: no error", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", bad, err)
		}
	}
}

func TestNewSMTPSenderRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  courier.SMTPConfig
	}{
		{"no from", courier.SMTPConfig{Host: "h", Port: 25, TLS: courier.TLSNone}},
		{"bad from", courier.SMTPConfig{Host: "h", Port: 25, TLS: courier.TLSNone, From: "not an address"}},
		{"no host", courier.SMTPConfig{Port: 25, From: "a@b.example"}},
		{"auth without user", courier.SMTPConfig{Host: "h", Port: 25, From: "a@b.example", Auth: "plain"}},
		{"unknown auth", courier.SMTPConfig{Host: "h", Port: 25, From: "a@b.example", Username: "u", Auth: "kerberos"}},
		{"unknown tls", courier.SMTPConfig{Host: "h", Port: 25, From: "a@b.example", TLS: "maybe"}},
	} {
		if _, err := courier.NewSMTPSender(tc.cfg); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func newSMTPSender(t testing.TB, rawURL string, clientTLS *tls.Config) *courier.SMTPSender {
	t.Helper()
	cfg, err := courier.ParseSMTPURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig = clientTLS
	s, err := courier.NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testMessage(id, to string) usher.Message {
	return usher.Message{ID: id, TenantID: tenant, Kind: "invitation", Channel: usher.ChannelEmail, To: to, Language: "nl",
		Subject: "Welkom bij Acme — activeer je account", Body: "Hallo Zoë,\n\nActiveer je account: https://acme.example/a/x\n"}
}

func TestSMTPSenderDeliversWithAuth(t *testing.T) {
	t.Parallel()
	srv := startMailServer(t, withAuth("usher", "p@ss word"))
	s := newSMTPSender(t, "smtp+insecure://usher:p%40ss%20word@"+srv.Addr+"?auth=plain&from="+url.QueryEscape("Acme <noreply@acme.example>"), nil)
	m := testMessage("0195a1b2-0000-7000-8000-000000000001", "zoe@example.com")
	ctx := context.Background()
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	// A resend (after a crash, say) carries the same Message-ID and reuses the connection.
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	if len(got) != 2 {
		t.Fatalf("received %d emails, want 2", len(got))
	}
	r := got[0]
	if r.From != "noreply@acme.example" || r.To != m.To || r.User != "usher" {
		t.Errorf("envelope from %q to %q as %q", r.From, r.To, r.User)
	}
	if r.Subject != m.Subject {
		t.Errorf("subject %q, want %q", r.Subject, m.Subject)
	}
	if strings.TrimRight(r.Body, "\n") != strings.TrimRight(m.Body, "\n") {
		t.Errorf("body %q, want %q", r.Body, m.Body)
	}
	if want := m.ID + "@acme.example"; r.MessageID != want || got[1].MessageID != want || s.MessageID(m.ID) != want {
		t.Errorf("Message-IDs %q and %q, want %q", r.MessageID, got[1].MessageID, want)
	}
	for h, want := range map[string]string{"Auto-Submitted": "auto-generated", "Content-Language": "nl", "To": "<zoe@example.com>"} {
		if v := r.Header.Get(h); v != want {
			t.Errorf("%s: %q, want %q", h, v, want)
		}
	}
	if from := r.Header.Get("From"); !strings.Contains(from, "Acme") || !strings.Contains(from, "<noreply@acme.example>") {
		t.Errorf("From: %q", from)
	}
	if n := srv.sessions.Load(); n != 1 {
		t.Errorf("%d connections for two messages, want 1 (kept open)", n)
	}
}

func TestSMTPSenderHTMLAlternative(t *testing.T) {
	t.Parallel()
	srv := startMailServer(t)
	s := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
	m := testMessage("0195a1b2-0000-7000-8000-000000000002", "ann@example.com")
	m.HTML = "<p>Hallo Zoë</p>"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r := srv.Received()[0]
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/alternative") {
		t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	if strings.TrimRight(r.Body, "\n") != strings.TrimRight(m.Body, "\n") {
		t.Errorf("text part %q", r.Body)
	}
}

func TestSMTPSenderTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := testCert(t)
	t.Run("starttls", func(t *testing.T) {
		srv := startMailServer(t, withTLS(serverTLS, false), withAuth("usher", "secret"))
		s := newSMTPSender(t, "smtp://usher:secret@"+srv.Addr+"?from=noreply@acme.example", clientTLS)
		if err := s.Send(context.Background(), testMessage("0195a1b2-0000-7000-8000-000000000003", "ann@example.com")); err != nil {
			t.Fatal(err)
		}
		if r := srv.Received()[0]; !r.TLS || r.User != "usher" {
			t.Errorf("TLS %v, user %q: want STARTTLS and AUTH", r.TLS, r.User)
		}
	})
	t.Run("implicit", func(t *testing.T) {
		srv := startMailServer(t, withTLS(serverTLS, true), withAuth("usher", "secret"))
		s := newSMTPSender(t, "smtps://usher:secret@"+srv.Addr+"?from=noreply@acme.example", clientTLS)
		if err := s.Send(context.Background(), testMessage("0195a1b2-0000-7000-8000-000000000004", "ann@example.com")); err != nil {
			t.Fatal(err)
		}
		if r := srv.Received()[0]; !r.TLS || r.User != "usher" {
			t.Errorf("TLS %v, user %q: want TLS and AUTH", r.TLS, r.User)
		}
	})
	t.Run("starttls required", func(t *testing.T) {
		srv := startMailServer(t) // offers no STARTTLS
		s := newSMTPSender(t, "smtp://"+srv.Addr+"?from=noreply@acme.example", clientTLS)
		err := s.Send(context.Background(), testMessage("0195a1b2-0000-7000-8000-000000000005", "ann@example.com"))
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") || courier.IsPermanent(err) {
			t.Fatalf("got %v, want a temporary error about STARTTLS", err)
		}
		if srv.Count() != 0 {
			t.Fatal("sent in clear")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := startMailServer(t, withTLS(serverTLS, false))
		s := newSMTPSender(t, "smtp://"+srv.Addr+"?from=noreply@acme.example", nil) // system roots
		err := s.Send(context.Background(), testMessage("0195a1b2-0000-7000-8000-000000000006", "ann@example.com"))
		if err == nil || courier.IsPermanent(err) || srv.Count() != 0 {
			t.Fatalf("got %v, want a temporary certificate error", err)
		}
	})
	t.Run("no password in clear", func(t *testing.T) {
		// auto never sends PLAIN over a connection in clear to another host.
		// (127.0.0.2 is loopback too, but not a name PLAIN trusts as localhost.)
		srv := startMailServerAt(t, "127.0.0.2:0", withAuth("usher", "secret"))
		s := newSMTPSender(t, "smtp://usher:secret@"+srv.Addr+"?from=noreply@acme.example&tls=opportunistic", nil)
		err := s.Send(context.Background(), testMessage("0195a1b2-0000-7000-8000-000000000007", "ann@example.com"))
		if err == nil || !strings.Contains(err.Error(), "in clear") || srv.Count() != 0 {
			t.Fatalf("got %v, want a refusal to send the password in clear", err)
		}
	})
}

func TestSMTPSenderClassifiesFailures(t *testing.T) {
	t.Parallel()
	srv := startMailServer(t, withAuth("usher", "right"))
	good := newSMTPSender(t, "smtp+insecure://usher:right@"+srv.Addr+"?auth=plain&from=noreply@acme.example", nil)
	reply := func(code int, msg string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: msg}
	}
	for _, tc := range []struct {
		name      string
		refuse    func(cmd, arg string) *smtp.SMTPError
		to        string
		permanent bool
		text      string
	}{
		{"550 on RCPT", func(cmd, _ string) *smtp.SMTPError {
			if cmd == "RCPT" {
				return reply(550, "no such user")
			}
			return nil
		}, "gone@example.com", true, "550"},
		{"451 on RCPT", func(cmd, _ string) *smtp.SMTPError {
			if cmd == "RCPT" {
				return reply(451, "greylisted, try later")
			}
			return nil
		}, "ann@example.com", false, "451"},
		{"451 on MAIL", func(cmd, _ string) *smtp.SMTPError {
			if cmd == "MAIL" {
				return reply(451, "local error")
			}
			return nil
		}, "ann@example.com", false, "451"},
		{"550 on MAIL is about the sender: retried", func(cmd, _ string) *smtp.SMTPError {
			if cmd == "MAIL" {
				return reply(550, "sender not allowed")
			}
			return nil
		}, "ann@example.com", false, "550"},
		{"554 on DATA", func(cmd, _ string) *smtp.SMTPError {
			if cmd == "DATA" {
				return reply(554, "content refused")
			}
			return nil
		}, "ann@example.com", true, "554"},
		{"452 on DATA", func(cmd, _ string) *smtp.SMTPError {
			if cmd == "DATA" {
				return reply(452, "mailbox full")
			}
			return nil
		}, "ann@example.com", false, "452"},
		{"unparseable recipient", nil, "not an address", true, "recipient"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.Refuse(tc.refuse)
			defer srv.Refuse(nil)
			before := srv.Count()
			err := good.Send(context.Background(), testMessage("0195a1b2-0000-7000-8000-000000000010", tc.to))
			if err == nil {
				t.Fatal("no error")
			}
			if courier.IsPermanent(err) != tc.permanent || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v (permanent %v), want permanent %v mentioning %q", err, courier.IsPermanent(err), tc.permanent, tc.text)
			}
			if srv.Count() != before {
				t.Fatal("the message was accepted")
			}
			// The connection stays usable after a refusal.
			srv.Refuse(nil)
			if err := good.Send(context.Background(), testMessage("0195a1b2-0000-7000-8000-000000000011", "ann@example.com")); err != nil {
				t.Fatalf("next message: %v", err)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		bad := newSMTPSender(t, "smtp+insecure://usher:hunter2@"+srv.Addr+"?auth=plain&from=noreply@acme.example", nil)
		err := bad.Send(context.Background(), testMessage("0195a1b2-0000-7000-8000-000000000012", "ann@example.com"))
		if err == nil || courier.IsPermanent(err) || !strings.Contains(err.Error(), "535") {
			t.Fatalf("got %v, want a temporary 535", err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("the error shows the password: %v", err)
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		s := newSMTPSender(t, "smtp+insecure://"+addr+"?from=noreply@acme.example", nil)
		err = s.Send(context.Background(), testMessage("0195a1b2-0000-7000-8000-000000000013", "ann@example.com"))
		if err == nil || courier.IsPermanent(err) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("got %v, want a temporary connection refused", err)
		}
	})

	t.Run("context ends mid-conversation", func(t *testing.T) {
		slow := startMailServer(t)
		slow.delay = 3 * time.Second
		s := newSMTPSender(t, "smtp+insecure://"+slow.Addr+"?from=noreply@acme.example", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := s.Send(ctx, testMessage("0195a1b2-0000-7000-8000-000000000014", "ann@example.com"))
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want the context's deadline", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Send took %v after its context ended", d)
		}
	})
}

func TestSMTPSenderRedialsAfterTheServerRestarts(t *testing.T) {
	t.Parallel()
	srv := startMailServer(t)
	s := newSMTPSender(t, "smtp+insecure://"+srv.Addr+"?from=noreply@acme.example", nil)
	ctx := context.Background()
	if err := s.Send(ctx, testMessage("0195a1b2-0000-7000-8000-000000000020", "ann@example.com")); err != nil {
		t.Fatal(err)
	}
	srv.srv.Close() // drops the connection the sender keeps
	again := startMailServerAt(t, srv.Addr)
	if err := s.Send(ctx, testMessage("0195a1b2-0000-7000-8000-000000000021", "bob@example.com")); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if again.Count() != 1 {
		t.Fatalf("the restarted server got %d emails", again.Count())
	}
}
