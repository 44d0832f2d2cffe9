package web

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/png"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/web/api"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/usherhq/usher"
)

// TestSignupLinksAPI manages sign-up links as a user administrator would,
// through the real server: create, list, change, disable, and the refusals.
func TestSignupLinksAPI(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		w := setUp(t, e)
		ua, ta := w.userAdmin.Secret, w.tenantAdmin.Secret
		acme := v1 + "/tenants/acme"
		dept := w.attrs[usher.KindDepartment]
		exp := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)

		// A user administrator may create a department's link with its defaults.
		l := post[usher.SignupLink](t, e, ua, acme+"/signup-links", obj{"name": "Warehouse", "department_id": dept.ID,
			"job_profile_id": w.attrs[usher.KindJobProfile].ID, "role_id": w.attrs[usher.KindRole].ID, "plan_id": w.std.ID,
			"expires_at": exp.Format(time.RFC3339), "max_uses": 25}, 201)
		if l.ID == "" || len(l.Code) != 22 || l.Name != "Warehouse" || l.DepartmentID != dept.ID || l.PlanID != w.std.ID ||
			l.ExpiresAt == nil || !l.ExpiresAt.Equal(exp) || l.MaxUses != 25 || l.Uses != 0 || l.Status != usher.SignupActive ||
			l.URL != e.url+"/t/acme/join/"+l.Code {
			t.Fatalf("created: %+v", l)
		}
		if got := get[usher.SignupLink](t, e, ua, acme+"/signup-links/"+l.ID); !reflect.DeepEqual(got, l) {
			t.Fatalf("read back %+v, created %+v", got, l)
		}
		everyone := post[usher.SignupLink](t, e, ta, acme+"/signup-links", obj{"name": "Everyone"}, 201)
		if p := get[usher.Plan](t, e, ua, acme+"/plans/"+w.std.ID); p.SeatsUsed != 0 {
			t.Fatalf("a link took a seat: %+v", p)
		}

		// Lists, filtered by department and status.
		all := get[api.Page[usher.SignupLink]](t, e, ua, acme+"/signup-links")
		if len(all.Items) != 2 || all.Items[0].ID != l.ID || all.Items[1].URL != everyone.URL {
			t.Fatalf("list: %+v", all)
		}
		if got := get[api.Page[usher.SignupLink]](t, e, ua, acme+"/signup-links?department_id="+dept.ID); len(got.Items) != 1 || got.Items[0].ID != l.ID {
			t.Fatalf("by department: %+v", got)
		}
		if got := get[api.Page[usher.SignupLink]](t, e, ua, acme+"/signup-links?department_id=-"); len(got.Items) != 1 || got.Items[0].ID != everyone.ID {
			t.Fatalf("the tenant's links: %+v", got)
		}
		if got := get[api.Page[usher.SignupLink]](t, e, ua, acme+"/signup-links?limit=1"); len(got.Items) != 1 || got.Next != l.ID {
			t.Fatalf("paged: %+v", got)
		}
		wantProblem(t, e.call(t, "GET", acme+"/signup-links?status=broken", ua, nil), 422, "invalid", "status")

		// Changes, disabling and enabling.
		l = patch[usher.SignupLink](t, e, ua, acme+"/signup-links/"+l.ID, obj{"name": "Warehouse night shift", "max_uses": 0, "expires_at": ""})
		if l.Name != "Warehouse night shift" || l.MaxUses != 0 || l.ExpiresAt != nil || l.DepartmentID != dept.ID || l.URL == "" {
			t.Fatalf("patched: %+v", l)
		}
		l = del[usher.SignupLink](t, e, ua, acme+"/signup-links/"+l.ID)
		if l.Status != usher.SignupDisabled || l.DisabledAt == nil {
			t.Fatalf("deleted: %+v", l)
		}
		if got := get[api.Page[usher.SignupLink]](t, e, ua, acme+"/signup-links?status=disabled"); len(got.Items) != 1 || got.Items[0].ID != l.ID {
			t.Fatalf("disabled list: %+v", got)
		}
		l = patch[usher.SignupLink](t, e, ua, acme+"/signup-links/"+l.ID, obj{"disabled": false})
		if l.Status != usher.SignupActive || l.DisabledAt != nil {
			t.Fatalf("enabled again: %+v", l)
		}
		events := get[api.Page[usher.AuditEvent]](t, e, ta, acme+"/audit-events?order=oldest&target_id="+l.ID)
		var actions []string
		for _, ev := range events.Items {
			actions = append(actions, ev.Action)
		}
		if strings.Join(actions, " ") != "signup_link.created signup_link.updated signup_link.disabled signup_link.updated" ||
			events.Items[0].ActorID != w.userAdmin.ID {
			t.Fatalf("audit: %v", events.Items)
		}

		// Bad input, each refused naming its field, leaving nothing behind.
		before := string(e.call(t, "GET", acme+"/signup-links", ua, nil).Body)
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		for _, c := range []struct {
			body   any
			status int
			code   string
			field  string
		}{
			{obj{"name": "X", "department_id": "00000000-0000-0000-0000-000000000000"}, 422, "invalid", "department_id"},
			{obj{"name": "X", "department_id": w.attrs[usher.KindRole].ID}, 422, "invalid", "department_id"},
			{obj{"name": "X", "plan_id": w.globexPlan.ID}, 422, "invalid", "plan_id"},
			{obj{"name": "X", "expires_at": past}, 422, "invalid", "expires_at"},
			{obj{"name": "X", "expires_at": "tomorrow"}, 422, "invalid", "expires_at"},
			{obj{"name": "X", "max_uses": -1}, 422, "invalid", "max_uses"},
			{obj{"name": "X", "max_uses": "5"}, 422, "invalid", "max_uses"},
			{obj{"name": "X", "colour": "red"}, 422, "invalid", "colour"},
			{obj{"name": "X", "code": "mine"}, 422, "invalid", "code"},
			{obj{"department_id": dept.ID}, 422, "invalid", "name"},
		} {
			wantProblem(t, e.call(t, "POST", acme+"/signup-links", ua, c.body), c.status, c.code, c.field)
		}
		wantProblem(t, e.call(t, "PATCH", acme+"/signup-links/"+l.ID, ua, obj{"max_uses": -3}), 422, "invalid", "max_uses")
		wantProblem(t, e.call(t, "PATCH", acme+"/signup-links/"+l.ID, ua, obj{"expires_at": past}), 422, "invalid", "expires_at")
		wantProblem(t, e.call(t, "PATCH", acme+"/signup-links/"+l.ID, ua, obj{"role_id": "nope"}), 422, "invalid", "role_id")
		wantProblem(t, e.call(t, "PATCH", acme+"/signup-links/"+l.ID, ua, obj{"uses": 0}), 422, "invalid", "uses")
		if after := string(e.call(t, "GET", acme+"/signup-links", ua, nil).Body); after != before {
			t.Fatalf("refused requests changed the links:\n%s\n%s", before, after)
		}

		// Another tenant's link is not found, through every route.
		theirs := post[usher.SignupLink](t, e, w.globexUserAdm.Secret, v1+"/tenants/globex/signup-links", obj{"name": "Globex"}, 201)
		for _, c := range []struct{ method, suffix string }{{"GET", ""}, {"PATCH", ""}, {"DELETE", ""}, {"GET", "/qr.png"}, {"GET", "/qr.svg"}} {
			var body any
			if c.method == "PATCH" {
				body = obj{"name": "Mine"}
			}
			wantProblem(t, e.call(t, c.method, acme+"/signup-links/"+theirs.ID+c.suffix, ua, body), 404, "not_found", "id")
		}
		wantProblem(t, e.call(t, "GET", v1+"/tenants/globex/signup-links/"+theirs.ID, ua, nil), 404, "not_found", "tenant")
		if got := get[usher.SignupLink](t, e, w.globexUserAdm.Secret, v1+"/tenants/globex/signup-links/"+theirs.ID); got.Name != "Globex" || got.Status != usher.SignupActive {
			t.Fatalf("globex's link after acme's attempts: %+v", got)
		}
	})
}

// TestSignupLinkQRCodes checks both QR formats: a PNG of the asked size and
// an SVG whose modules are exactly the QR code of the link's address.
func TestSignupLinkQRCodes(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		post[map[string]any](t, e, e.op, v1+"/tenants", obj{"slug": "acme", "name": "Acme"}, 201)
		ua := post[api.CreatedToken](t, e, e.op, v1+"/tenants/acme/tokens", obj{"name": "helpdesk", "role": usher.AdminUser}, 201).Secret
		base := v1 + "/tenants/acme/signup-links"
		l := post[usher.SignupLink](t, e, ua, base, obj{"name": `Night shift <A&B> "north"`}, 201)

		for _, c := range []struct {
			query string
			size  int
		}{{"", 512}, {"?size=128", 128}, {"?size=300", 300}, {"?size=2048", 2048}} {
			r := e.call(t, "GET", base+"/"+l.ID+"/qr.png"+c.query, ua, nil)
			if r.Status != 200 || r.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("qr.png%s: %s", c.query, r.Header)
			}
			img, err := png.Decode(bytes.NewReader(r.Body))
			if err != nil {
				t.Fatalf("qr.png%s is not a PNG: %v", c.query, err)
			}
			if b := img.Bounds(); b.Dx() != c.size || b.Dy() != c.size {
				t.Fatalf("qr.png%s is %v, want %d×%d", c.query, b, c.size, c.size)
			}
		}
		for _, q := range []string{"?size=127", "?size=2049", "?size=big", "?size=512&size=256", "?size=-512"} {
			wantProblem(t, e.call(t, "GET", base+"/"+l.ID+"/qr.png"+q, ua, nil), 422, "invalid", "size")
		}
		wantProblem(t, e.call(t, "GET", base+"/"+l.ID+"/qr.png?limit=1", ua, nil), 422, "invalid", "limit")
		wantProblem(t, e.call(t, "GET", base+"/"+l.ID+"/qr.svg?size=512", ua, nil), 422, "invalid", "size")
		wantProblem(t, e.call(t, "GET", base+"/"+l.ID+"/qr.png", "", nil), 401, "unauthorized", "Authorization")
		wantProblem(t, e.call(t, "GET", base+"/00000000-0000-0000-0000-000000000000/qr.svg", ua, nil), 404, "not_found", "id")

		r := e.call(t, "GET", base+"/"+l.ID+"/qr.svg", ua, nil)
		if r.Status != 200 || r.Header.Get("Content-Type") != "image/svg+xml" {
			t.Fatalf("qr.svg: %d %s", r.Status, r.Header)
		}
		var svg struct {
			XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
			ViewBox string   `xml:"viewBox,attr"`
			Shape   string   `xml:"shape-rendering,attr"`
			Title   string   `xml:"title"`
			Paths   []struct {
				D string `xml:"d,attr"`
			} `xml:"path"`
		}
		if err := xml.Unmarshal(r.Body, &svg); err != nil {
			t.Fatalf("qr.svg is not well-formed XML: %v\n%s", err, r.Body)
		}
		qr, err := qrcode.New(l.URL, qrcode.Medium)
		if err != nil {
			t.Fatal(err)
		}
		bitmap := qr.Bitmap()
		n := len(bitmap)
		if svg.ViewBox != fmt.Sprintf("0 0 %d %d", n, n) || svg.Shape != "crispEdges" || svg.Title != l.Name || len(svg.Paths) != 1 {
			t.Fatalf("svg: viewBox %q (want %d modules), shape-rendering %q, title %q, %d paths", svg.ViewBox, n, svg.Shape, svg.Title, len(svg.Paths))
		}
		// Every square of the path is a dark module of the link's QR code, and every dark module is drawn.
		drawn := map[[2]int]bool{}
		for _, sq := range strings.Split(strings.TrimSuffix(svg.Paths[0].D, "z"), "z") {
			var x, y int
			if _, err := fmt.Sscanf(sq, "M%d %dh1v1h-1", &x, &y); err != nil {
				t.Fatalf("path segment %q: %v", sq, err)
			}
			drawn[[2]int{x, y}] = true
		}
		dark := 0
		for y, row := range bitmap {
			for x, on := range row {
				if on {
					dark++
					if !drawn[[2]int{x, y}] {
						t.Fatalf("module (%d,%d) is not drawn", x, y)
					}
				}
			}
		}
		if dark != len(drawn) || !bitmap[4][4] || bitmap[0][0] {
			t.Fatalf("%d squares drawn, %d dark modules; a quiet zone of 4 is expected", len(drawn), dark)
		}
	})
}
