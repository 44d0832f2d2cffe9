package usher

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// Look-alike identifiers: the forms that read the same are one login, and
// those made to read like another (mixed scripts, odd domains) are refused.
func TestLookAlikeIdentifiers(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"Admin@Acme.Example", "admin@acme.example", ""},
		{"ａｄｍｉｎ@ａｃｍｅ.example", "admin@acme.example", ""},       // full-width
		{"ad\u200bmin@acme.example", "admin@acme.example", ""}, // zero-width space
		{"ad\u00admin@acme.example", "admin@acme.example", ""}, // soft hyphen
		{"\ufeffadmin@acme.example\u200d", "admin@acme.example", ""},
		{"иван@пример.рф", "иван@пример.рф", ""},           // one script is fine
		{"jose\u0301@example.com", "josé@example.com", ""}, // composed
		{"\u0430dmin@acme.example", "", "mixes"},           // Cyrillic а
		{"admin@\u0430cme.example", "", "mixes"},
		{"a@[127.0.0.1]", "", "not an IP address"},
		{"a@1.2.3.4", "", "not an IP address"},
		{"a@-b.example", "", "hyphen"},
		{"a@b-.example", "", "hyphen"},
		{"a@b_c.example", "", "only letters, digits"},
		{"a@localhost", "", "not an IP address"},
		{"a@b..example", "", "not an email address"},
	} {
		got, err := NormalizeEmail("email", tc.in)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "(email)")) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want an error on email saying %q", tc.in, got, err, tc.err)
		}
	}
	for _, tc := range []struct{ in, want, err string }{
		{"ａdmin", "admin", ""},
		{"ad\u200bmin", "admin", ""},
		{"Jürgen.K", "Jürgen.K", ""},
		{"山田taro", "山田taro", ""}, // Han with Latin is allowed (UTS #39 highly restrictive)
		{"p\u0430ypal", "", "mixes Latin and Cyrillic"},
		{"adm\u202eni", "admni", ""}, // a bidi override is invisible: folded away
		{"ab", "", "3 to 64"},
	} {
		got, err := CheckUsername("username", tc.in)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("CheckUsername(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckUsername(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.err)
		}
	}
	// The sign-in box folds what is typed the same way.
	for in, want := range map[string]string{"ＡＤＭＩＮ@acme.example": "admin@acme.example", "ad\u200bmin": "admin", "＋３１ ６ １２３４ ５６７８": "+31612345678"} {
		if got := NormalizeLogin(in); got != want {
			t.Errorf("NormalizeLogin(%q) = %q, want %q", in, got, want)
		}
	}
	// Names refuse what makes them read otherwise than stored.
	for _, in := range []string{"Eve\u202eKcab", "Ev\u200be", "\u2066Eve\u2069", "Eve\u200d", "a\u00adb"} {
		if _, err := CleanText("first_name", in, 100); err == nil || !strings.Contains(err.Error(), "(first_name)") {
			t.Errorf("CleanText(%q) = %v, want a refusal naming first_name", in, err)
		}
	}
	for _, in := range []string{"می\u200cخواهم", "👩\u200d💻 Ada", "Zoë"} {
		if _, err := CleanText("first_name", in, 100); err != nil {
			t.Errorf("CleanText(%q) = %v, want it accepted", in, err)
		}
	}
}

// fold's shortcut for printable ASCII gives what the full folding gives.
func TestFoldASCII(t *testing.T) {
	var all strings.Builder
	for c := byte(0x20); c <= 0x7e; c++ {
		all.WriteByte(c)
	}
	full := func(s string) string {
		return norm.NFKC.String(strings.Map(func(r rune) rune {
			if invisible(r) {
				return -1
			}
			return r
		}, s))
	}
	for _, s := range []string{all.String(), "Person;Number 7", "p7@example.com", "a\tb", "é"} {
		if got, want := fold(s), full(s); got != want {
			t.Errorf("fold(%q) = %q, want %q", s, got, want)
		}
	}
}
