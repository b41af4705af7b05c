package httpapi

import (
	"bytes"
	"errors"
	"html/template"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestTemplateSet: adding a page parses nothing; loading the set (serve's start-up)
// parses and checks it in the default language only; another language's is parsed on
// its first use, once however many requests race for it, and each language renders
// with its own functions.
func TestTemplateSet(t *testing.T) {
	var mu sync.Mutex
	parsed := map[string]int{}
	s := newTemplateSet(func(lang, name string) (*template.Template, error) {
		mu.Lock()
		parsed[lang+"/"+name]++
		mu.Unlock()
		return template.New(name).Funcs(template.FuncMap{"lang": func() string { return lang }}).
			Parse(`{{define "layout"}}` + name + ` in {{lang}}{{end}}`)
	})
	checked := 0
	s.add("login", "fr", func(*template.Template) error { checked++; return nil })
	if len(parsed) != 0 || checked != 0 {
		t.Fatalf("adding a page parsed %v and checked it %d times", parsed, checked)
	}
	if err := s.load(); err != nil {
		t.Fatal(err)
	}
	if len(parsed) != 1 || parsed["fr/login"] != 1 || checked != 1 {
		t.Fatalf("start-up parsed %v and checked %d times, want fr/login once", parsed, checked)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := s.get("ja", "login"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if parsed["ja/login"] != 1 {
		t.Fatalf("ja/login parsed %d times, want once", parsed["ja/login"])
	}
	for lang, want := range map[string]string{"fr": "login in fr", "ja": "login in ja", "de": "login in de"} {
		tpl, err := s.get(lang, "login")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := tpl.ExecuteTemplate(&b, "layout", nil); err != nil || b.String() != want {
			t.Fatalf("%s: rendered %q (%v), want %q", lang, b.String(), err, want)
		}
	}
	if parsed["fr/login"] != 1 {
		t.Fatalf("the default language's page was parsed again: %v", parsed)
	}
	if _, err := s.get("en", "consent"); err == nil {
		t.Fatal("a page never added was found")
	}
	if _, err := s.get("xx", "login"); err == nil {
		t.Fatal("a language the pages do not speak was found")
	}
	boom := errors.New("boom")
	s.add("broken", "en", func(*template.Template) error { return boom })
	if err := s.load(); !errors.Is(err, boom) {
		t.Fatalf("a failed check gave %v, want it to stop start-up", err)
	}
	if parsed["fr/login"] != 1 {
		t.Fatalf("loading again parsed the loaded page again: %v", parsed)
	}
}

// TestTemplates_FieldErrorsBelongToTheirInputs: every message a form shows next to a
// field (Fields.X) has the id X-error, and the field's control names it in
// aria-describedby, so that a screen reader reads it with the control; a control
// that can be invalid says so with aria-invalid.
func TestTemplates_FieldErrorsBelongToTheirInputs(t *testing.T) {
	entries, err := templateFS.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	shown := regexp.MustCompile(`\{\{with \.Fields\.(\w+)\}\}<p class="field-error"([^>]*)>`)
	checked := 0
	for _, e := range entries {
		b, err := templateFS.ReadFile("templates/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, m := range shown.FindAllStringSubmatch(src, -1) {
			field, attrs := m[1], m[2]
			checked++
			if !strings.Contains(attrs, `id="`+field+`-error"`) {
				t.Errorf("%s: the message of %s has no id=%q", e.Name(), field, field+"-error")
			}
			described := regexp.MustCompile(`<(input|select|textarea|fieldset)\b[^>]*aria-describedby="[^"]*\b` +
				regexp.QuoteMeta(field) + `-error\b`)
			if !described.MatchString(src) {
				t.Errorf("%s: no control names %s-error in aria-describedby", e.Name(), field)
			}
			invalid := regexp.MustCompile(`<(input|select|textarea)\b[^>]*\{\{if \.Fields\.` + regexp.QuoteMeta(field) + `\}\}[^>]*aria-invalid="true"`)
			// A group of checkboxes (a fieldset) has no aria-invalid; it names the message.
			group := regexp.MustCompile(`<fieldset\b[^>]*aria-describedby="[^"]*\b` + regexp.QuoteMeta(field) + `-error\b`)
			if !invalid.MatchString(src) && !group.MatchString(src) {
				t.Errorf("%s: no control of %s says aria-invalid", e.Name(), field)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d field messages: the pattern no longer finds them", checked)
	}
}
