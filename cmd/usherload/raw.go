package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// rawClient sends one worker's measured requests over one keep-alive
// connection. It writes HTTP/1.1 by hand and reads answers with
// http.ReadResponse: net/http's client spends, in goroutine hand-offs and
// allocations, about as much CPU per request as usher spends answering a
// lookup, and the tool runs on the same cores as the server.
type rawClient struct {
	api     *api
	conn    net.Conn
	br      *bufio.Reader
	wbuf    []byte
	stop    func() bool // ends the context watch of conn
	timeout time.Duration
}

// request is one measured request and the check of its 2xx answer.
type request struct {
	method, target string // target: path and query
	auth           string // "Bearer …" instead of the operator's token (SCIM's)
	body           []byte // JSON, or nil
	form           bool   // the body is a form, not JSON
	redirect       bool   // a 303 is the answer hoped for (a form post)
	check          func(status int, body []byte) bool
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.stop()
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawClient) dial(ctx context.Context) error {
	u := c.api.baseURL
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	if u.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname()})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return err
		}
		conn = tc
	}
	// An interrupted run unblocks a request in flight.
	c.stop = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	c.conn, c.br = conn, bufio.NewReaderSize(conn, 32<<10)
	return nil
}

// do sends r and reads the whole answer into out. A GET on a kept-alive
// connection the server closed meanwhile is sent again on a new one; a
// POST never is, so nothing is created twice.
func (c *rawClient) do(ctx context.Context, r *request, out *bytes.Buffer) (int, error) {
	for attempt := 0; ; attempt++ {
		reused := c.conn != nil
		if !reused {
			if err := c.dial(ctx); err != nil {
				return 0, err
			}
		}
		status, err := c.roundTrip(r, out)
		if err == nil {
			return status, nil
		}
		c.close()
		if !reused || attempt > 0 || r.method != "GET" || ctx.Err() != nil {
			return 0, err
		}
	}
}

func (c *rawClient) roundTrip(r *request, out *bytes.Buffer) (int, error) {
	b := append(c.wbuf[:0], r.method...)
	b = append(b, ' ')
	b = append(b, r.target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.api.baseURL.Host...)
	b = append(b, "\r\nAuthorization: "...)
	if r.auth != "" {
		b = append(b, r.auth...)
	} else {
		b = append(b, c.api.auth...)
	}
	b = append(b, "\r\nAccept: application/json\r\n"...)
	if r.body != nil {
		if r.form {
			b = append(b, "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "...)
		} else {
			b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		}
		b = strconv.AppendInt(b, int64(len(r.body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, r.body...)
	c.wbuf = b
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.conn.Write(b); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, err
	}
	out.Reset()
	_, err = out.ReadFrom(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err == nil && resp.Close {
		c.close() // the server ends the connection after this answer
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, err
	}
	return resp.StatusCode, err
}
