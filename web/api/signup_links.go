package api

import (
	"net/http"
	"strconv"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

// Sign-up links and their QR codes. The rules are the provisioning
// service's; these handlers add the public address and draw the codes.

// withURL fills in the link's public address.
func (h *Handler) withURL(c *Call, l usher.SignupLink, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	l.URL = h.links.SignUp(c.tenant, l.Code)
	return l, nil
}

func (h *Handler) ListSignupLinks(r *http.Request, c *Call) (any, error) {
	q := newQuery(r, "department_id", "status")
	f := store.SignupLinkFilter{DepartmentID: q.str("department_id"),
		Status: q.oneOf("status", usher.SignupActive, usher.SignupExpired, usher.SignupUsedUp, usher.SignupDisabled)}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	links, next, err := h.signup.ListSignupLinks(r.Context(), c.tenant, f, o)
	for i := range links {
		links[i].URL = h.links.SignUp(c.tenant, links[i].Code)
	}
	return paged(links, next, err)
}

func (h *Handler) CreateSignupLink(r *http.Request, c *Call) (any, error) {
	var in signup.SignupLinkInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	l, err := h.signup.CreateSignupLink(r.Context(), c.actor, c.tenant, in)
	return h.withURL(c, l, err)
}

func (h *Handler) GetSignupLink(r *http.Request, c *Call) (any, error) {
	l, err := h.signup.SignupLink(r.Context(), c.tenant, r.PathValue("id"))
	return h.withURL(c, l, err)
}

func (h *Handler) UpdateSignupLink(r *http.Request, c *Call) (any, error) {
	var in signup.SignupLinkInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	l, err := h.signup.UpdateSignupLink(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
	return h.withURL(c, l, err)
}

func (h *Handler) DisableSignupLink(r *http.Request, c *Call) (any, error) {
	l, err := h.signup.DeactivateSignupLink(r.Context(), c.actor, c.tenant, r.PathValue("id"))
	return h.withURL(c, l, err)
}

// signupQR reads the link of the path and encodes its address.
func (h *Handler) signupQR(r *http.Request, c *Call) (usher.SignupLink, *qrcode.QRCode, error) {
	l, err := h.signup.SignupLink(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return l, nil, err
	}
	qr, err := view.SignupQR(h.links, c.tenant, l)
	return l, qr, err
}

func (h *Handler) SignupQRPNG(r *http.Request, c *Call) (any, error) {
	q := unpagedQuery(r, "size")
	size := view.QRDefaultSize
	if v := q.str("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < view.QRMinSize || n > view.QRMaxSize {
			q.errs = append(q.errs, usher.Invalid("size", "must be a whole number of pixels from %d to %d", view.QRMinSize, view.QRMaxSize))
		}
		size = n
	}
	if err := q.err(); err != nil {
		return nil, err
	}
	l, qr, err := h.signupQR(r, c)
	if err != nil {
		return nil, err
	}
	return view.QRPNG(qr, l, size)
}

func (h *Handler) SignupQRSVG(r *http.Request, c *Call) (any, error) {
	if err := unpagedQuery(r).err(); err != nil {
		return nil, err
	}
	l, qr, err := h.signupQR(r, c)
	if err != nil {
		return nil, err
	}
	return view.QRSVG(qr, l), nil
}
