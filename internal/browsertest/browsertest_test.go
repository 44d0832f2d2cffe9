package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

const goodPage = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Good</title>
<style>input,button,a,select{outline-offset:2px} :focus{outline:3px solid orange}</style></head><body>
<h1>Tell us</h1>
<div role="alert">Please correct the fields marked below.</div>
<form method="post" action="/done">
<label for="name">Your name</label>
<input id="name" name="name" aria-invalid="true" aria-describedby="name-error" autofocus>
<p class="error" id="name-error">Your name is required.</p>
<label for="color">Favourite colour</label>
<select id="color" name="color"><option value="">Choose</option><option value="r">Red</option><option value="g">Green</option></select>
<label for="when">When</label>
<input type="date" id="when" name="when">
<div style="overflow-x:auto"><div style="width:2000px">A wide table that scrolls in its box</div></div>
<table><tr><td><input type="checkbox" name="row" aria-label="Select this row"></td></tr></table>
<label><input type="checkbox" name="news" value="yes"> Send me news</label>
<button type="button" onclick="document.querySelector('h1').textContent = 'Clicked'">Change the heading</button>
<button type="submit">Send it</button>
</form>
<p><a href="/other">Elsewhere</a></p>
</body></html>`

const badPage = `<!doctype html><html><head><title>Bad</title></head><body>
<h1>One</h1><h1>Two</h1>
<input name="nolabel">
<label for="a">A</label><input id="a" aria-invalid="true">
<p class="error" id="e">Wrong</p>
<div style="width:600px">wide</div>
<button></button>
<a href="/x" tabindex="5">jump</a>
<button style="outline:none">no ring</button>
<img src="/x.png">
<p style="color:#aaa">faint</p>
<span id="a"></span>
</body></html>`

func testServer(t *testing.T) string {
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body)
		}
	}
	mux.HandleFunc("GET /good", page(goodPage))
	mux.HandleFunc("GET /bad", page(badPage))
	// Reloads itself at the first Tab pressed in the browser's session (the
	// second copy does not), like a page that refreshes during a walk.
	mux.HandleFunc("GET /reloads", page(strings.Replace(goodPage, "</body>", `<script>
document.addEventListener('keydown', e => { if (e.key === 'Tab' && !sessionStorage.getItem('reloaded')) { sessionStorage.setItem('reloaded', '1'); location.reload(); } });
</script></body>`, 1)))
	mux.HandleFunc("GET /other", page(strings.Replace(goodPage, "Tell us", "Other", 1)))
	mux.HandleFunc("POST /done", func(w http.ResponseWriter, r *http.Request) {
		page(`<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width"><title>Done</title></head><body><h1>Thanks, `+
			r.PostFormValue("name")+` (`+r.PostFormValue("color")+r.PostFormValue("news")+`)</h1></body></html>`)(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestBrowserHarnessGoodPage(t *testing.T) {
	base := testServer(t)
	p := New(t)
	p.Open(base + "/good")
	p.WantH1("Tell us")
	if got := p.Focused(); got != `field "Your name"` {
		t.Errorf("focused: %s", got)
	}
	if got := p.FieldError("Your name"); got != "Your name is required." {
		t.Errorf("field error: %q", got)
	}
	if got := p.Alerts(); !slices.Equal(got, []string{"Please correct the fields marked below."}) {
		t.Errorf("alerts: %q", got)
	}
	p.Fill("Your name", "Ada Lovelace")
	p.Fill("name", "Ada Byron") // by id, replacing what was typed
	p.Select("Favourite colour", "Green")
	p.SetChecked("Send me news", true)
	p.SetChecked("Send me news", false)
	p.SetChecked("Send me news", true)
	p.ClickInPlace("Change the heading")
	p.WantH1("Clicked")
	p.Click("Send it")
	p.WantH1("Thanks, Ada Byron (gyes)")

	p.Open(base + "/good")
	p.ClickLink("Elsewhere")
	p.WantH1("Other")
	// The keyboard alone: type, Enter submits.
	p.Open(base + "/good")
	p.Type("Grace")
	p.Navigating(func() { p.Press("\r") })
	p.WantH1("Thanks, Grace ()")
}

func TestBrowserHarnessBadPage(t *testing.T) {
	base := testServer(t)
	p := New(t)
	p.NoChecks = true
	p.Open(base + "/bad")
	problems := strings.Join(p.Problems(), "\n")
	for _, want := range []string{"language", "viewport", "2 h1 headings", "name=nolabel has no label", `the id "a" is used 2 times`,
		`the error "Wrong" is not linked`, `field "A" is marked invalid`, "a button has no text", "image has no alt", `"faint" has a contrast of 2.32:1`, "scrolls sideways at 390 px"} {
		if !strings.Contains(problems, want) {
			t.Errorf("the problems do not mention %q:\n%s", want, problems)
		}
	}
	keyboard := strings.Join(p.Keyboard(), "\n")
	if !strings.Contains(keyboard, "Tab reaches") {
		t.Errorf("the keyboard check misses the positive tabindex:\n%s", keyboard)
	}
	p.SetViewport(Desktop)
	if problems := strings.Join(p.Problems(), "\n"); strings.Contains(problems, "sideways") {
		t.Errorf("a 600 px page scrolls sideways at 1280 px?\n%s", problems)
	}
}

// A page that reloads itself during the walk with the Tab key is walked
// again, and its findings are the page's own.
func TestBrowserHarnessKeyboardOnAReloadingPage(t *testing.T) {
	base := testServer(t)
	p := New(t)
	p.NoChecks = true
	p.Open(base + "/good")
	clean := p.Keyboard()
	p.Open(base + "/reloads")
	if got := p.Keyboard(); !slices.Equal(got, clean) {
		t.Errorf("after a reload during the walk: %q; want the page's own findings %q", got, clean)
	}
	// The page did reload (else this test tests nothing).
	for deadline := time.Now().Add(5 * time.Second); ; {
		kind, err := eval[string](p, `performance.getEntriesByType('navigation')[0].type`)
		if err == nil && kind == "reload" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not reload during the walk (%q, %v)", kind, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
