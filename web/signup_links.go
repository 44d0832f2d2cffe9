package web

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// Sign-up links and their QR codes. The rules are the provisioning
// service's; these handlers add the public address and draw the codes.

// QR code images: a PNG is size × size pixels.
const (
	qrMinSize     = 128
	qrMaxSize     = 2048
	qrDefaultSize = 512
)

// withURL fills in the link's public address.
func (s *Server) withURL(c *call, l usher.SignupLink, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	l.URL = s.cfg.Links.SignUp(c.tenant, l.Code)
	return l, nil
}

func (s *Server) listSignupLinks(r *http.Request, c *call) (any, error) {
	q := newQuery(r, "department_id", "status")
	f := store.SignupLinkFilter{DepartmentID: q.str("department_id"),
		Status: q.oneOf("status", usher.SignupActive, usher.SignupExpired, usher.SignupUsedUp, usher.SignupDisabled)}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	links, next, err := s.svc.ListSignupLinks(r.Context(), c.tenant, f, o)
	for i := range links {
		links[i].URL = s.cfg.Links.SignUp(c.tenant, links[i].Code)
	}
	return paged(links, next, err)
}

func (s *Server) createSignupLink(r *http.Request, c *call) (any, error) {
	var in provision.SignupLinkInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	l, err := s.svc.CreateSignupLink(r.Context(), c.actor, c.tenant, in)
	return s.withURL(c, l, err)
}

func (s *Server) getSignupLink(r *http.Request, c *call) (any, error) {
	l, err := s.svc.SignupLink(r.Context(), c.tenant, r.PathValue("id"))
	return s.withURL(c, l, err)
}

func (s *Server) updateSignupLink(r *http.Request, c *call) (any, error) {
	var in provision.SignupLinkInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	l, err := s.svc.UpdateSignupLink(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
	return s.withURL(c, l, err)
}

func (s *Server) disableSignupLink(r *http.Request, c *call) (any, error) {
	l, err := s.svc.DeactivateSignupLink(r.Context(), c.actor, c.tenant, r.PathValue("id"))
	return s.withURL(c, l, err)
}

// signupQR reads the link of the path and encodes its address. Medium error
// correction survives a smudged print without making the code dense.
func (s *Server) signupQR(r *http.Request, c *call) (usher.SignupLink, *qrcode.QRCode, error) {
	l, err := s.svc.SignupLink(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return l, nil, err
	}
	qr, err := qrcode.New(s.cfg.Links.SignUp(c.tenant, l.Code), qrcode.Medium)
	if err != nil {
		return l, nil, fmt.Errorf("encode QR code: %w", err)
	}
	return l, qr, nil
}

// strictQuery reads a query that is not a list: no limit or after.
func strictQuery(r *http.Request, names ...string) *query {
	q := newQuery(r, names...)
	delete(q.allowed, "limit")
	delete(q.allowed, "after")
	return q
}

func (s *Server) signupQRPNG(r *http.Request, c *call) (any, error) {
	q := strictQuery(r, "size")
	size := qrDefaultSize
	if v := q.str("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < qrMinSize || n > qrMaxSize {
			q.errs = append(q.errs, usher.Invalid("size", "must be a whole number of pixels from %d to %d", qrMinSize, qrMaxSize))
		}
		size = n
	}
	if err := q.err(); err != nil {
		return nil, err
	}
	l, qr, err := s.signupQR(r, c)
	if err != nil {
		return nil, err
	}
	png, err := qr.PNG(size)
	if err != nil {
		return nil, fmt.Errorf("draw QR code: %w", err)
	}
	return rawResponse{contentType: "image/png", filename: "signup-link-" + l.ID + ".png", body: png}, nil
}

func (s *Server) signupQRSVG(r *http.Request, c *call) (any, error) {
	if err := strictQuery(r).err(); err != nil {
		return nil, err
	}
	l, qr, err := s.signupQR(r, c)
	if err != nil {
		return nil, err
	}
	return rawResponse{contentType: "image/svg+xml", filename: "signup-link-" + l.ID + ".svg", body: qrSVG(qr.Bitmap(), l.Name)}, nil
}

// qrSVG draws a QR bitmap (quiet zone included) as one path of unit
// squares on a white background, in module units, so it scales to any print
// size; crispEdges keeps renderers from blurring the seams between modules.
func qrSVG(bitmap [][]bool, title string) []byte {
	n := len(bitmap)
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges" role="img">`, n, n, n*8, n*8)
	b.WriteString("<title>")
	_ = xml.EscapeText(&b, []byte(title))
	b.WriteString("</title>")
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bitmap {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString("\"/></svg>\n")
	return b.Bytes()
}
