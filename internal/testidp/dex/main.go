// Command dex runs Dex (github.com/dexidp/dex) in-process with in-memory
// storage, static clients and static passwords, as the OpenID Connect
// provider of usher's tests. It lives in its own module so that Dex and its
// dependencies stay out of usher's go.mod; internal/testidp builds it and
// starts it.
//
// The configuration is one JSON object (see config) read from -config, a
// file or "-" for standard input. Once Dex serves, the first line on
// standard output is
//
//	issuer http://127.0.0.1:PORT/dex
//
// With -stdin-lifeline, Dex keeps reading standard input after the
// configuration and exits when it closes, so it never outlives the test
// process that started it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dexidp/dex/server"
	"github.com/dexidp/dex/server/connectors"
	"github.com/dexidp/dex/server/signer"
	"github.com/dexidp/dex/server/tokens"
	"github.com/dexidp/dex/storage"
	"github.com/dexidp/dex/storage/memory"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"
)

// config is what the tests give Dex.
type config struct {
	// Addr is the listen address; "127.0.0.1:0" when empty.
	Addr string `json:"addr"`
	// IssuerPath is the issuer URL's path; "/dex" when empty.
	IssuerPath string `json:"issuerPath"`
	// Clients are the static OAuth 2.0 clients.
	Clients []client `json:"clients"`
	// Users are the static passwords of the local ("Email") connector.
	Users []user `json:"users"`
	// ShowApproval shows Dex's approval screen after sign-in (skipped
	// when false).
	ShowApproval bool `json:"showApproval"`
	// NoPasswordGrant turns off the resource owner password grant, which
	// is on by default through the local connector.
	NoPasswordGrant bool `json:"noPasswordGrant"`
	// IDTokensValidFor is a Go duration; 24h when empty.
	IDTokensValidFor string `json:"idTokensValidFor"`
	// KeysRotationPeriod is a Go duration; 6h when empty.
	KeysRotationPeriod string `json:"keysRotationPeriod"`
	// SigningAlgorithm is RS256 (when empty) or ES256.
	SigningAlgorithm string `json:"signingAlgorithm"`
	// RefreshReuseInterval is a Go duration: how long a refresh token
	// already rotated is still accepted (none when empty). Refresh tokens
	// rotate at every use.
	RefreshReuseInterval string `json:"refreshReuseInterval"`
}

type client struct {
	ID           string   `json:"id"`
	Secret       string   `json:"secret"`
	RedirectURIs []string `json:"redirectURIs"`
	Public       bool     `json:"public"`
	Name         string   `json:"name"`
}

type user struct {
	Email string `json:"email"`
	// Username is the "name" claim.
	Username          string   `json:"username"`
	PreferredUsername string   `json:"preferredUsername"`
	UserID            string   `json:"userID"`
	Password          string   `json:"password"`
	Groups            []string `json:"groups"`
	// EmailUnverified makes email_verified false (it is true otherwise).
	EmailUnverified bool `json:"emailUnverified"`
}

func main() {
	configPath := flag.String("config", "-", `the JSON configuration: a file, or "-" for standard input`)
	addr := flag.String("addr", "", "listen address (overrides the configuration's addr; default 127.0.0.1:0)")
	issuerPath := flag.String("issuer-path", "", "the issuer URL's path (overrides the configuration's issuerPath; default /dex)")
	lifeline := flag.Bool("stdin-lifeline", false, "after the configuration, read standard input and exit when it closes")
	verbose := flag.Bool("v", false, "log at debug level (the default is warnings and errors)")
	flag.Parse()

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, logger, *configPath, *addr, *issuerPath, *lifeline, stop); err != nil {
		fmt.Fprintln(os.Stderr, "dex:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *slog.Logger, configPath, addr, issuerPath string, lifeline bool, stop func()) error {
	var in io.Reader = os.Stdin
	if configPath != "-" {
		f, err := os.Open(configPath)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	var c config
	dec := json.NewDecoder(in)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("reading the configuration: %w", err)
	}
	if addr != "" {
		c.Addr = addr
	}
	if issuerPath != "" {
		c.IssuerPath = issuerPath
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.IssuerPath == "" {
		c.IssuerPath = "/dex"
	}
	if !strings.HasPrefix(c.IssuerPath, "/") {
		c.IssuerPath = "/" + c.IssuerPath
	}
	c.IssuerPath = strings.TrimSuffix(c.IssuerPath, "/")

	if lifeline {
		go func() {
			// Whatever follows the configuration is read and dropped; the
			// end of standard input (the test process closed it or exited)
			// stops Dex.
			_, _ = io.Copy(io.Discard, io.MultiReader(dec.Buffered(), in))
			stop()
		}()
	}

	// Listen first: the issuer URL holds the port.
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	issuer := "http://" + ln.Addr().String() + c.IssuerPath

	s, err := newStorage(logger, c)
	if err != nil {
		return err
	}
	defer s.Close()

	idTokensValidFor := 24 * time.Hour
	if c.IDTokensValidFor != "" {
		if idTokensValidFor, err = time.ParseDuration(c.IDTokensValidFor); err != nil {
			return fmt.Errorf("idTokensValidFor: %w", err)
		}
	}
	local := signer.LocalConfig{KeysRotationPeriod: c.KeysRotationPeriod}
	if local.KeysRotationPeriod == "" {
		local.KeysRotationPeriod = "6h"
	}
	if c.SigningAlgorithm != "" {
		local.Algorithm = jose.SignatureAlgorithm(c.SigningAlgorithm)
	}
	now := func() time.Time { return time.Now().UTC() }
	sign, err := local.Open(ctx, s, idTokensValidFor, now, logger)
	if err != nil {
		return fmt.Errorf("signer: %w", err)
	}

	// Without a policy Dex's refresh grant fails; rotation is Dex's default.
	refresh, err := tokens.NewRefreshTokenPolicy(logger, false, "", "", c.RefreshReuseInterval)
	if err != nil {
		return fmt.Errorf("refresh token policy: %w", err)
	}

	sc := server.Config{
		Issuer:             issuer,
		Storage:            s,
		SkipApprovalScreen: !c.ShowApproval,
		IDTokensValidFor:   idTokensValidFor,
		Logger:             logger,
		Now:                now,
		Signer:             sign,
		RefreshTokenPolicy: refresh,
	}
	if !c.NoPasswordGrant {
		sc.PasswordConnector = connectors.LocalConnector
	}
	srv, err := server.NewServer(ctx, sc)
	if err != nil {
		return err
	}

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Printf("issuer %s\n", issuer)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newStorage is Dex's in-memory storage with the configuration's clients,
// users (their passwords hashed with bcrypt here) and the local connector.
func newStorage(logger *slog.Logger, c config) (storage.Storage, error) {
	var s storage.Storage = &refreshUpdates{Storage: memory.New(logger)}

	clients := make([]storage.Client, 0, len(c.Clients))
	for _, cl := range c.Clients {
		if cl.ID == "" {
			return nil, errors.New("a client without an id")
		}
		if cl.Secret == "" && !cl.Public {
			return nil, fmt.Errorf("client %q: a confidential client needs a secret", cl.ID)
		}
		name := cl.Name
		if name == "" {
			name = cl.ID
		}
		clients = append(clients, storage.Client{
			ID:           cl.ID,
			Secret:       cl.Secret,
			RedirectURIs: cl.RedirectURIs,
			Public:       cl.Public,
			Name:         name,
		})
	}
	s = storage.WithStaticClients(s, clients)

	passwords := make([]storage.Password, 0, len(c.Users))
	for _, u := range c.Users {
		if u.Email == "" || u.Password == "" {
			return nil, errors.New("a user needs an email and a password")
		}
		// Dex refuses hashes below bcrypt's default cost at sign-in.
		hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.DefaultCost)
		if err != nil {
			return nil, err
		}
		userID := u.UserID
		if userID == "" {
			userID = u.Email
		}
		verified := !u.EmailUnverified
		passwords = append(passwords, storage.Password{
			Email:             u.Email,
			Hash:              hash,
			Username:          u.Username,
			PreferredUsername: u.PreferredUsername,
			EmailVerified:     &verified,
			UserID:            userID,
			Groups:            u.Groups,
		})
	}
	s = storage.WithStaticPasswords(s, passwords, logger)

	return storage.WithStaticConnectors(s, []storage.Connector{{
		ID:   connectors.LocalConnector,
		Name: "Email",
		Type: connectors.LocalConnector,
	}}), nil
}

// refreshUpdates runs the refresh grant's update of a refresh token outside
// the memory storage's lock: Dex's updater reads the offline session, which
// takes that lock again, so a refresh through the memory storage alone never
// answers. Updates of refresh tokens are serialized here instead.
type refreshUpdates struct {
	storage.Storage
	mu sync.Mutex
}

func (s *refreshUpdates) UpdateRefreshToken(ctx context.Context, id string, updater func(storage.RefreshToken) (storage.RefreshToken, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.GetRefresh(ctx, id)
	if err != nil {
		return err
	}
	updated, err := updater(old)
	if err != nil {
		return err
	}
	return s.Storage.UpdateRefreshToken(ctx, id, func(storage.RefreshToken) (storage.RefreshToken, error) { return updated, nil })
}
