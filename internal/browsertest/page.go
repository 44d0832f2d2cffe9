package browsertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Viewport is a window size; Mobile makes Chromium behave as a phone's
// browser (the page's viewport meta tag counts).
type Viewport struct {
	Width, Height int64
	Mobile        bool
}

// The two sizes pages are tested and photographed at.
var (
	Phone   = Viewport{Width: 390, Height: 844, Mobile: true}
	Desktop = Viewport{Width: 1280, Height: 800}
)

// Page is one person's browser: a fresh browser context with its own
// cookies, and one tab, at phone size until [Page.SetViewport] says otherwise.
// A Page belongs to one test goroutine; two people are two Pages.
type Page struct {
	t        testing.TB
	ctx      context.Context
	viewport Viewport
	checked  map[string]bool

	// NoChecks turns off the checks of every page reached; a test that
	// looks at a page which is not usher's own may set it.
	NoChecks bool
}

// New opens a page in a new browser context of the shared browser. It skips
// the test when there is no Chromium, and closes the page when the test ends.
func New(t testing.TB) *Page {
	t.Helper()
	parent := browser(t)
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	// The tab is bound to ctx by its first Run; the timeout only waits.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	timer := time.NewTimer(StartTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			cancel()
			t.Fatalf("opening a tab: %v", err)
		}
	case <-timer.C:
		cancel()
		t.Fatal("the browser did not open a tab in time")
	}
	t.Cleanup(cancel)
	p := &Page{t: t, ctx: ctx, checked: map[string]bool{}}
	// Every page behaves as the window in front, though several are open:
	// the keyboard reaches it and focus styles show.
	p.run("emulating focus", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	}))
	p.SetViewport(Phone)
	return p
}

// run runs one step with ActionTimeout, failing the test on an error.
func (p *Page) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := p.do(steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// do runs steps within ActionTimeout and returns their error, for a caller
// that can tell a page going away from a failure (Keyboard).
func (p *Page) do(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// Eval evaluates a JavaScript expression in the page and decodes its JSON
// value into T; an exception or a timeout fails the test.
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	v, err := eval[T](p, expr)
	if err != nil {
		p.t.Fatalf("evaluating %.80q: %v", expr, err)
	}
	return v
}

func eval[T any](p *Page, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// SetViewport resizes the page's window.
func (p *Page) SetViewport(v Viewport) {
	p.t.Helper()
	var opts []chromedp.EmulateViewportOption
	if v.Mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	p.run(fmt.Sprintf("setting the viewport to %d×%d", v.Width, v.Height), chromedp.EmulateViewport(v.Width, v.Height, opts...))
	p.viewport = v
}

// Open goes to an address, as typed into the address bar, and waits for
// the page.
func (p *Page) Open(url string) {
	p.t.Helper()
	p.run("opening "+url, chromedp.Navigate(url))
	p.arrived()
}

// Reload loads the current address again.
func (p *Page) Reload() {
	p.t.Helper()
	p.Open(p.URL())
}

// URL is the address of the page shown.
func (p *Page) URL() string { p.t.Helper(); return Eval[string](p, `location.href`) }

// H1 is the text of the page's first h1.
func (p *Page) H1() string {
	p.t.Helper()
	return Eval[string](p, `(document.querySelector('h1')?.innerText || '').replace(/\s+/g, ' ').trim()`)
}

// Text is all the text the page shows.
func (p *Page) Text() string {
	p.t.Helper()
	return Eval[string](p, `document.body ? document.body.innerText : ''`)
}

// Alerts are the texts of the page's alerts and status messages
// (role="alert" and role="status"), in page order.
func (p *Page) Alerts() []string {
	p.t.Helper()
	return Eval[[]string](p, `[...document.querySelectorAll('[role=alert],[role=status]')].map(e => e.innerText.replace(/\s+/g, ' ').trim())`)
}

// FieldError is the error message linked to a field (found as by Fill)
// through its aria-describedby, or "" when it has none.
func (p *Page) FieldError(field string) string {
	p.t.Helper()
	sel := p.find(field, "field")
	return Eval[string](p, `(() => { const el = document.querySelector(`+js(sel)+`);
		return (el.getAttribute('aria-describedby') || '').split(/\s+/).map(id => document.getElementById(id)).
			filter(e => e && e.classList.contains('error')).map(e => e.innerText.trim()).join(' '); })()`)
}

// WantH1 fails the test unless the page's h1 is want.
func (p *Page) WantH1(want string) {
	p.t.Helper()
	if got := p.H1(); got != want {
		p.t.Fatalf("at %s the heading is %q, want %q; the page says:\n%s", p.URL(), got, want, p.Text())
	}
}

// WantText fails the test unless the page shows each of says.
func (p *Page) WantText(says ...string) {
	p.t.Helper()
	text := p.Text()
	for _, s := range says {
		if !strings.Contains(text, s) {
			p.t.Fatalf("the page at %s does not say %q; it says:\n%s", p.URL(), s, text)
		}
	}
}

// WantNoText fails the test when the page shows any of says.
func (p *Page) WantNoText(says ...string) {
	p.t.Helper()
	text := p.Text()
	for _, s := range says {
		if strings.Contains(text, s) {
			p.t.Fatalf("the page at %s says %q; it should not:\n%s", p.URL(), s, text)
		}
	}
}

// findJS marks the element a person means by a field's label (or id) or a
// button's or link's text, and answers its CSS selector, or an error.
const findJS = `((query, kind) => {
	const norm = s => (s || '').replace(/\s+/g, ' ').trim().toLowerCase();
	// checkVisibility also hides what a closed <details> holds.
	const visible = el => el.checkVisibility ? el.checkVisibility() : !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
	const want = norm(query);
	let found = [];
	if (kind === 'field') {
		const byID = document.getElementById(query);
		if (byID && /^(INPUT|SELECT|TEXTAREA)$/.test(byID.tagName)) found = [byID];
		else {
			const labels = [...document.querySelectorAll('label')].filter(visible);
			let ls = labels.filter(l => norm(l.innerText) === want);
			if (!ls.length) ls = labels.filter(l => norm(l.innerText).includes(want));
			found = ls.map(l => l.control).filter(Boolean);
			// A control named by aria-label (a row's checkbox in a table).
			if (!found.length) found = [...document.querySelectorAll('input[aria-label],select[aria-label]')].filter(visible).filter(el => norm(el.getAttribute('aria-label')) === want);
		}
	} else {
		const name = el => norm(el.innerText || el.value || el.getAttribute('aria-label'));
		const all = [...document.querySelectorAll(kind === 'link' ? 'a[href]' : 'button, summary, input[type=submit], input[type=button], [role=button]')].filter(visible);
		found = all.filter(el => name(el) === want);
		if (!found.length) found = all.filter(el => name(el).includes(want));
	}
	found = [...new Set(found)];
	if (found.length !== 1) return {error: found.length + ' elements match'};
	const el = found[0];
	const mark = 'bt-' + Math.random().toString(36).slice(2);
	el.setAttribute('data-browsertest', mark);
	return {selector: '[data-browsertest="' + mark + '"]'};
})`

// find answers the selector of the one element a person means.
func (p *Page) find(query, kind string) string {
	p.t.Helper()
	r := Eval[struct{ Selector, Error string }](p, findJS+`(`+js(query)+`, `+js(kind)+`)`)
	if r.Error != "" {
		p.t.Fatalf("at %s: looking for the %s %q: %s", p.URL(), kind, query, r.Error)
	}
	return r.Selector
}

// clickAt clicks the middle of the element with the mouse, after scrolling
// it into view and making sure nothing covers it.
func (p *Page) clickAt(sel, what string) {
	p.t.Helper()
	pt := Eval[struct {
		X, Y    float64
		Covered string
	}](p, `(() => { const el = document.querySelector(`+js(sel)+`);
		el.scrollIntoView({block: 'center', inline: 'center'});
		// A link that wraps has several boxes: aim at the first.
		const r = el.getClientRects()[0] || el.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
		const top = document.elementFromPoint(x, y);
		return {x, y, covered: top && (top === el || el.contains(top) || top.control === el) ? '' : (top ? top.outerHTML.slice(0, 120) : 'nothing')}; })()`)
	if pt.Covered != "" {
		p.t.Fatalf("at %s: %s is covered by %s", p.URL(), what, pt.Covered)
	}
	p.run("clicking "+what, chromedp.MouseClickXY(math.Round(pt.X), math.Round(pt.Y)))
}

// Fill types value into the field with this label (or id), as a person
// does: a click into the field, its old text removed, then key by key.
func (p *Page) Fill(field, value string) {
	p.t.Helper()
	sel := p.find(field, "field")
	what := fmt.Sprintf("the field %q", field)
	p.clickAt(sel, what)
	if !Eval[bool](p, `(() => { const el = document.querySelector(`+js(sel)+`); if (document.activeElement !== el) return false; el.value = ''; return true; })()`) {
		p.t.Fatalf("at %s: clicking %s does not put the cursor in it", p.URL(), what)
	}
	p.run("typing into "+what, chromedp.KeyEvent(value))
	if got := Eval[string](p, `document.querySelector(`+js(sel)+`).value`); got != value && got != strings.TrimSpace(value) {
		p.t.Fatalf("at %s: typed %q into %s, it holds %q", p.URL(), value, what, got)
	}
}

// Upload chooses the file at path in the file field with this label, as a
// person does in the file dialog.
func (p *Page) Upload(field, path string) {
	p.t.Helper()
	sel := p.find(field, "field")
	p.run(fmt.Sprintf("choosing %s in the field %q", filepath.Base(path), field), chromedp.SetUploadFiles(chromedp.CSS(sel), []string{path}))
}

// Select chooses the option with this text in the list with this label.
func (p *Page) Select(field, option string) {
	p.t.Helper()
	sel := p.find(field, "field")
	ok := Eval[bool](p, `(() => { const el = document.querySelector(`+js(sel)+`);
		const o = [...el.options].find(o => o.text.trim() === `+js(option)+`);
		if (!o) return false;
		el.focus(); el.value = o.value;
		el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));
		return true; })()`)
	if !ok {
		p.t.Fatalf("at %s: the list %q has no option %q", p.URL(), field, option)
	}
}

// Value is what the field with this label (or id) holds.
func (p *Page) Value(field string) string {
	p.t.Helper()
	sel := p.find(field, "field")
	return Eval[string](p, `document.querySelector(`+js(sel)+`).value`)
}

// Click clicks the button with this text and waits for the page it leads to.
func (p *Page) Click(button string) {
	p.t.Helper()
	sel := p.find(button, "button")
	p.Navigating(func() { p.clickAt(sel, fmt.Sprintf("the button %q", button)) })
}

// ClickInPlace clicks the button with this text and does not wait for
// another page: for a button that changes the page it is on.
func (p *Page) ClickInPlace(button string) {
	p.t.Helper()
	p.clickAt(p.find(button, "button"), fmt.Sprintf("the button %q", button))
}

// SetChecked ticks (on) or clears the checkbox or radio button with this
// label by clicking it, when it is not so already.
func (p *Page) SetChecked(field string, on bool) {
	p.t.Helper()
	sel := p.find(field, "field")
	if Eval[bool](p, `document.querySelector(`+js(sel)+`).checked`) != on {
		p.clickAt(sel, fmt.Sprintf("the box %q", field))
	}
	if Eval[bool](p, `document.querySelector(`+js(sel)+`).checked`) != on {
		p.t.Fatalf("at %s: clicking %q does not make it %v", p.URL(), field, on)
	}
}

// ClickLink follows the link with this text and waits for its page.
func (p *Page) ClickLink(link string) {
	p.t.Helper()
	sel := p.find(link, "link")
	p.Navigating(func() { p.clickAt(sel, fmt.Sprintf("the link %q", link)) })
}

// Press types keys on the keyboard into whatever has the focus, like
// "\t" (kb.Tab) or "\r" (kb.Enter); it does not wait for a new page.
func (p *Page) Press(keys string) {
	p.t.Helper()
	p.run(fmt.Sprintf("pressing %q", keys), chromedp.KeyEvent(keys))
}

// Type types text into whatever has the focus.
func (p *Page) Type(text string) { p.t.Helper(); p.Press(text) }

// Focused describes the element that has the keyboard focus: a field by its
// label, a button or link by its text.
func (p *Page) Focused() string {
	p.t.Helper()
	return Eval[string](p, describeJS+`(document.activeElement)`)
}

const describeJS = `(el => {
	if (!el || el === document.body) return '';
	const t = s => (s || '').replace(/\s+/g, ' ').trim();
	if (el.labels && el.labels.length) return 'field "' + t(el.labels[0].innerText) + '"';
	if (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) && el.getAttribute('aria-label')) return 'field "' + t(el.getAttribute('aria-label')) + '"';
	if (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) return el.tagName.toLowerCase() + ' #' + el.id;
	if (el.tagName === 'A') return 'link "' + t(el.innerText) + '"';
	if (el.tagName === 'BUTTON') return 'button "' + t(el.innerText) + '"';
	return el.tagName.toLowerCase() + ' "' + t(el.innerText).slice(0, 40) + '"';
})`

// Navigating runs act, which makes the page go to another (a click, Enter
// in a form), and waits until the new page has loaded.
func (p *Page) Navigating(act func()) {
	p.t.Helper()
	token := make([]byte, 8)
	rand.Read(token)
	mark := hex.EncodeToString(token)
	Eval[bool](p, `(window.__browsertest = `+js(mark)+`, true)`)
	act()
	p.loaded(mark, "no new page", time.Now().Add(ActionTimeout))
	p.arrived()
}

// loaded waits until the page's document has finished loading and, when
// mark is not empty, is no longer the one Navigating marked with it.
// Errors while one document gives way to the next are expected; at
// deadline the test fails with what, and what was last seen.
func (p *Page) loaded(mark, what string, deadline time.Time) {
	p.t.Helper()
	for {
		state, err := eval[string](p, `(window.__browsertest || '') + '|' + document.readyState`)
		if err == nil && (mark == "" || !strings.HasPrefix(state, mark)) && strings.HasSuffix(state, "|complete") {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s after %s (still %q, last error %v)", what, ActionTimeout, state, err)
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// arrived runs the checks on a page just reached, once per address and heading.
func (p *Page) arrived() {
	p.t.Helper()
	if p.NoChecks {
		return
	}
	ct, err := eval[string](p, `document.contentType`)
	for deadline := time.Now().Add(ActionTimeout); err != nil; ct, err = eval[string](p, `document.contentType`) {
		// The page went on by itself as it loaded (a form that posts
		// itself, as a hand-over to a company's sign-in does): the checks
		// are for the page it went to.
		if time.Now().After(deadline) {
			p.t.Fatalf("evaluating document.contentType: %v", err)
		}
		time.Sleep(15 * time.Millisecond)
		p.loaded("", "the page it went to did not finish loading", deadline)
	}
	if ct != "text/html" {
		return
	}
	// The same address and heading with other errors or notices is
	// another page for the checks: error states matter most.
	key := Eval[string](p, `[location.href, ...[...document.querySelectorAll('h1, [aria-invalid=true], .error, [role=alert], [role=status]')].
		map(e => e.tagName + ':' + (e.id || '') + ':' + e.innerText)].join('\n')`)
	if p.checked[key] {
		return
	}
	p.checked[key] = true
	for _, problem := range p.Problems() {
		p.t.Errorf("at %s (%q): %s", p.URL(), p.H1(), problem)
	}
	for _, problem := range p.Keyboard() {
		p.t.Errorf("at %s (%q), keyboard: %s", p.URL(), p.H1(), problem)
	}
}

// problemsJS lists what makes a page hard to use for people with a screen
// reader, a keyboard or a phone. Field errors follow usher's convention: an
// element of class "error" with an id, named by its field's aria-describedby.
const problemsJS = `(width => {
	const d = document, out = [];
	const t = s => (s || '').replace(/\s+/g, ' ').trim();
	const describe = ` + describeJS + `;
	const name = el => t(el.innerText || el.value || el.getAttribute('aria-label') || el.getAttribute('title') || [...el.querySelectorAll('img[alt]')].map(i => i.alt).join(' '));
	if (!t(d.documentElement.lang)) out.push('the page does not say its language (<html lang>)');
	const vp = d.querySelector('meta[name=viewport]');
	if (!vp || !/width=device-width/.test(vp.content)) out.push('no <meta name=viewport content="width=device-width, ...">: phones show it zoomed out');
	if (!t(d.title)) out.push('the page has no <title>');
	const h1 = d.querySelectorAll('h1');
	if (h1.length !== 1) out.push(h1.length + ' h1 headings, want exactly one');
	for (const el of d.querySelectorAll('input:not([type=hidden]),select,textarea')) {
		if (el.checkVisibility && !el.checkVisibility()) continue; // in a closed <details>: checked when opened
		// A <label>, or for a control without room for one (a row's checkbox
		// in a table) a name by aria-label or aria-labelledby.
		const named = t(el.getAttribute('aria-label')) || (el.getAttribute('aria-labelledby') || '').split(/\s+/).some(id => d.getElementById(id) && t(d.getElementById(id).innerText));
		if ((!el.labels || el.labels.length === 0) && !named) out.push(el.tagName.toLowerCase() + ' name=' + el.name + ' has no label');
		else if (el.labels && el.labels.length && !t(el.labels[0].innerText)) out.push(describe(el) + ' has an empty label');
	}
	const seen = {};
	for (const el of d.querySelectorAll('[id]')) seen[el.id] = (seen[el.id] || 0) + 1;
	for (const id in seen) if (seen[id] > 1) out.push('the id "' + id + '" is used ' + seen[id] + ' times');
	const described = new Set();
	for (const el of d.querySelectorAll('[aria-describedby]')) {
		for (const id of el.getAttribute('aria-describedby').split(/\s+/).filter(Boolean)) {
			described.add(id);
			if (!d.getElementById(id)) out.push(describe(el) + ' is described by "' + id + '", which is not on the page');
		}
	}
	for (const el of d.querySelectorAll('.error')) {
		if (!el.id || !described.has(el.id)) out.push('the error "' + t(el.innerText) + '" is not linked to its field (aria-describedby)');
	}
	for (const el of d.querySelectorAll('[aria-invalid=true]')) {
		const ids = (el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
		if (!ids.some(id => d.getElementById(id) && d.getElementById(id).classList.contains('error'))) out.push(describe(el) + ' is marked invalid, but no error message says why');
	}
	for (const el of d.querySelectorAll('button, a[href], [role=button]')) if (!name(el) && !(el.checkVisibility && !el.checkVisibility())) out.push('a ' + el.tagName.toLowerCase() + ' has no text');
	for (const el of d.querySelectorAll('img:not([alt])')) out.push('an image has no alt text: ' + el.src);
	for (const el of d.querySelectorAll('[role=alert],[role=status]')) if (!t(el.innerText)) out.push('an empty ' + el.getAttribute('role'));
	// Text contrast, WCAG AA: 4.5:1, or 3:1 for large text.
	const rgb = c => { const m = c.match(/[\d.]+/g); return m ? m.map(Number) : null; };
	const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
	const background = el => {
		for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c && (c.length < 4 || c[3] > 0.5)) return c; }
		return [255, 255, 255];
	};
	const lowContrast = new Set();
	for (const el of d.body.querySelectorAll('*')) {
		if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()) && !/^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(el.tagName)) continue;
		if (!(el.offsetWidth || el.offsetHeight)) continue;
		const s = getComputedStyle(el), fg = rgb(s.color), bg = background(el);
		if (!fg || (fg.length > 3 && fg[3] === 0)) continue;
		const a = lum(fg), b = lum(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
		const size = parseFloat(s.fontSize), large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
		if (ratio < (large ? 3 : 4.5)) lowContrast.add('"' + t(el.innerText || el.value).slice(0, 40) + '" has a contrast of ' + ratio.toFixed(2) + ':1 (' + s.color + ' on rgb(' + bg.slice(0, 3).join(', ') + ')), want ' + (large ? 3 : 4.5) + ':1');
	}
	out.push(...lowContrast);
	const w = d.documentElement.scrollWidth;
	if (w > width) out.push('the page scrolls sideways at ' + width + ' px: it is ' + w + ' px wide');
	return out;
})`

// Problems lists what is wrong with the page now for people using a screen
// reader or a phone: fields without labels, errors not linked to their field,
// no language, no viewport meta, not exactly one h1, duplicate ids, nameless
// buttons and links, images without alt text, text with too little contrast
// to its background (WCAG AA), a page wider than the
// window (a phone's 390 px, whatever the page's own idea of its width).
func (p *Page) Problems() []string {
	p.t.Helper()
	return Eval[[]string](p, fmt.Sprintf("%s(%d)", problemsJS, p.viewport.Width))
}

// Keyboard walks the page with the Tab key from its first focusable element
// and lists what is wrong: an element Tab skips or reaches out of order, or
// one that shows no focus indicator. The focus is put back afterwards.
//
// A page that reloads itself (a running import's, every two seconds) can
// do so during a walk, which on a slow machine takes about as long: the walk
// then starts again on the new page, up to three times.
func (p *Page) Keyboard() []string {
	p.t.Helper()
	for walk := 1; ; walk++ {
		problems, reloaded := p.keyboardWalk()
		if !reloaded {
			return problems
		}
		if walk == 3 {
			return []string{"the page reloaded itself during each of 3 walks with the Tab key: a keyboard user loses the focus as often"}
		}
		p.loaded("", "the page did not finish reloading", time.Now().Add(ActionTimeout))
	}
}

// keyboardWalk is one walk of Keyboard; reloaded says the document was
// replaced during it, which makes its findings meaningless.
func (p *Page) keyboardWalk() (problems []string, reloaded bool) {
	p.t.Helper()
	type stop struct {
		Desc   string
		Shown  bool
		Same   bool // still the element of the step before: a date's day, month, year
		Extra  bool // a scrolling box the browser lets the keyboard scroll
		Listed bool
	}
	const focusables = `[...document.querySelectorAll('a[href], button:not([disabled]), summary, input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]')].
		filter(el => el.tabIndex >= 0 && (el.checkVisibility ? el.checkVisibility() : !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length))).
		filter((el, _, all) => {
			// A radio group is one Tab stop: its checked button, or its first.
			if (el.type !== 'radio' || !el.name) return true;
			const group = all.filter(o => o.type === 'radio' && o.name === el.name && o.form === el.form);
			const checked = group.find(o => o.checked);
			return checked ? checked === el : group[0] === el;
		})`
	const step = `(() => { const el = document.activeElement, s = getComputedStyle(el);
		const same = el === window.__browsertestLast; window.__browsertestLast = el;
		const scrolls = /(auto|scroll)/.test(s.overflowX + s.overflowY) && (el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight);
		return {desc: ` + describeJS + `(el), same, listed: ` + focusables + `.includes(el), extra: scrolls,
			shown: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'}; })()`
	// The mark lives in the document's window: a reload takes it away.
	gone := func() bool {
		still, err := eval[bool](p, `window.__browsertestWalk === true`)
		return err != nil || !still
	}
	// failed is for an error of the browser's: a reload under way, or else
	// a failure of the test.
	failed := func(what string, err error) bool {
		if gone() {
			return true
		}
		p.t.Fatalf("keyboard walk, %s: %v", what, err)
		return false
	}
	want, err := eval[[]string](p, `(() => { window.__browsertestWalk = true; window.__browsertestFocus = document.activeElement; return `+focusables+`.map(`+describeJS+`); })()`)
	if err != nil {
		return nil, failed("listing the focusable elements", err)
	}
	if len(want) == 0 {
		return nil, false
	}
	got, err := eval[stop](p, `(() => { window.__browsertestLast = null; `+focusables+`[0].focus(); return `+step+`; })()`)
	if err != nil {
		return nil, failed("focusing the first element", err)
	}
	for i, presses := 0, 0; i < len(want); i++ {
		if i > 0 {
			for {
				if err := p.do(chromedp.KeyEvent("\t")); err != nil {
					return nil, failed("pressing Tab", err)
				}
				if got, err = eval[stop](p, step); err != nil {
					return nil, failed("reading the focus", err)
				}
				presses++
				// Tab stays in a date field for its parts, and stops at a
				// scrolling box that holds nothing focusable.
				if !(got.Same || (got.Extra && !got.Listed)) || presses > 10*len(want) {
					break
				}
			}
		}
		if got.Desc != want[i] {
			if gone() {
				return nil, true
			}
			problems = append(problems, fmt.Sprintf("Tab reaches %s where %s comes next (Tab order: %q)", got.Desc, want[i], want))
			break
		}
		if !got.Shown {
			problems = append(problems, got.Desc+" shows no focus indicator")
		}
	}
	if gone() {
		return nil, true
	}
	// Put the focus back; with none before, also the point the next Tab
	// starts from, so the walk leaves no trace.
	if _, err := eval[bool](p, `(() => { const el = window.__browsertestFocus; delete window.__browsertestFocus; delete window.__browsertestLast; delete window.__browsertestWalk;
		if (el && el !== document.body) { el.focus(); return true; }
		const h = document.documentElement, had = h.getAttribute('tabindex');
		h.tabIndex = -1; h.focus(); h.blur();
		if (had === null) h.removeAttribute('tabindex'); else h.setAttribute('tabindex', had);
		return true; })()`); err != nil {
		// The script itself cannot fail: the page went away under it.
		return nil, true
	}
	return problems, false
}

// Screenshot writes a full-page PNG of the page at phone width to
// ScreenshotDir()/name.png, when USHER_SCREENSHOTS=1 (otherwise nothing).
func (p *Page) Screenshot(name string) { p.t.Helper(); p.ScreenshotAt(name, Phone) }

// ScreenshotAt is Screenshot at another window size.
func (p *Page) ScreenshotAt(name string, v Viewport) {
	p.t.Helper()
	if !ScreenshotsWanted() {
		return
	}
	before := p.viewport
	if v != before {
		p.SetViewport(v)
		defer p.SetViewport(before)
	}
	// The blinking caret and the focus ring's edges would make pictures
	// differ from run to run: the picture is taken without the focus.
	Eval[bool](p, `(() => { window.__browsertestFocus = document.activeElement; document.activeElement?.blur();
		const s = document.createElement('style'); s.id = 'browsertest-shot'; s.textContent = '*{caret-color:transparent !important}';
		document.head.appendChild(s); return true; })()`)
	defer Eval[bool](p, `(() => { document.getElementById('browsertest-shot')?.remove(); const el = window.__browsertestFocus;
		delete window.__browsertestFocus; if (el && el !== document.body) el.focus(); return true; })()`)
	height := Eval[float64](p, `Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight))`)
	var shot []byte
	p.run("taking the screenshot "+name, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			CaptureBeyondViewport: ptr(true),
			FromSurface:           ptr(true),
			Clip:                  &page.Viewport{X: 0, Y: 0, Width: float64(v.Width), Height: height, Scale: 1},
		})
		shot = r.Data
		return err
	}))
	writeScreenshot(p.t, name, shot)
}

func ptr[T any](v T) *T { return &v }

// Download gets the target of the link named link with the page's
// cookies, as the browser's download of it would, and returns the status
// and the body. (The pages' content security policy keeps scripts from
// fetching anything, so the download is made here.)
func (p *Page) Download(link string) (int, []byte) {
	p.t.Helper()
	href := Eval[string](p, `(() => { const a = [...document.querySelectorAll('a')].find(a => a.innerText.trim() === `+js(link)+`); return a ? a.href : '' })()`)
	if href == "" {
		p.t.Fatalf("at %s there is no link %q", p.URL(), link)
	}
	req, err := http.NewRequest("GET", href, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	p.run("reading the cookies", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{href}})
		for _, c := range res.Cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		return err
	}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("downloading %s: %v", href, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("downloading %s: %v", href, err)
	}
	return resp.StatusCode, body
}
