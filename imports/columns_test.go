package imports

import "testing"

// Every header names one column in every language, and every word of the
// instructions is there in every language.
func TestHeadersAndWords(t *testing.T) {
	seen := map[string]string{}
	for _, c := range columns {
		for i, l := range c.labels {
			if l == "" {
				t.Errorf("column %s has no label in %s", c.key, Languages[i])
			}
			if other, ok := seen[foldHeader(l)]; ok && other != c.key {
				t.Errorf("header %q names both %s and %s", l, other, c.key)
			}
			seen[foldHeader(l)] = c.key
		}
		if _, ok := words["help."+c.key]; !ok {
			t.Errorf("column %s has no help", c.key)
		}
	}
	for key, w := range words {
		for i, s := range w {
			if s == "" {
				t.Errorf("%s has no %s", key, Languages[i])
			}
		}
	}
	for _, h := range []string{"FIRST NAME", "  first   name *", "Ｆｉｒｓｔ name", "e-mail", "E-Mail", "téléphone", "first_name"} {
		if headers[foldHeader(h)] == nil {
			t.Errorf("header %q is not recognized", h)
		}
	}
}
