package i18n

import (
	"encoding/json"
	"path"
	"regexp"
	"slices"
	"sync"
	"testing"
)

var placeholder = regexp.MustCompile(`{{\s*\.(\w+)\s*}}`)

func placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func catalog(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := localeFS.ReadFile(path.Join("locales", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", lang, err)
	}
	return m
}

// TestCatalogs_complete: every catalog holds exactly English's keys, each message
// with English's placeholders, and no message is left empty or untranslated where
// English is a sentence.
func TestCatalogs_complete(t *testing.T) {
	en := catalog(t, "en")
	if len(en) < 50 {
		t.Fatalf("the English catalog holds only %d messages", len(en))
	}
	for _, lang := range Supported[1:] {
		m := catalog(t, lang)
		for k, v := range en {
			tv, ok := m[k]
			if !ok {
				t.Errorf("%s lacks %q", lang, k)
				continue
			}
			if tv == "" {
				t.Errorf("%s: %q is empty", lang, k)
			}
			if a, b := placeholders(v), placeholders(tv); !slices.Equal(a, b) {
				t.Errorf("%s: %q has placeholders %v, English %v", lang, k, b, a)
			}
		}
		for k := range m {
			if _, ok := en[k]; !ok {
				t.Errorf("%s has %q, which English lacks", lang, k)
			}
		}
	}
}

func TestCatalog_textAndMatch(t *testing.T) {
	c, err := New("en")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Text("de", "login.error.too_many", map[string]string{"Seconds": "30"}); got !=
		"Zu viele fehlgeschlagene Anmeldeversuche. Warten Sie 30 Sekunden und versuchen Sie es dann erneut." {
		t.Errorf("de too_many = %q", got)
	}
	if got := c.Text("ja", "login.title", nil); got != "サインイン" {
		t.Errorf("ja login.title = %q", got)
	}
	if got := c.Text("xx", "login.title", nil); got != "Sign in" {
		t.Errorf("unknown locale: %q", got)
	}
	if got := c.Text("de", "no.such.key", nil); got != "no.such.key" {
		t.Errorf("missing key: %q", got)
	}
	for _, tc := range []struct {
		prefs []string
		want  string
	}{
		{[]string{"fr-CA de"}, "fr"},
		{[]string{"zh nl ja"}, "ja"},
		{[]string{"", "", "de-DE,de;q=0.9,en;q=0.8"}, "de"},
		{[]string{"", "es", "de"}, "es"},
		{[]string{"zh-CN,zh;q=0.9"}, "en"},
		{[]string{"pt-BR,ja;q=0.5"}, "ja"},
		{[]string{"!!!"}, "en"},
		{nil, "en"},
	} {
		if got := c.Match(tc.prefs...); got != tc.want {
			t.Errorf("Match(%q) = %q, want %q", tc.prefs, got, tc.want)
		}
	}
	d, err := New("ja")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Match("zh"); got != "ja" {
		t.Errorf("default ja: Match(zh) = %q", got)
	}
	if _, err := New("xx"); err == nil {
		t.Error("New(xx) did not fail")
	}
}

// TestCatalog_lazy: a language's catalog is parsed on its first use only, once however
// many pages ask at the same time; a language whose catalog cannot be read falls back
// to English.
func TestCatalog_lazy(t *testing.T) {
	c, err := New("en")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Supported {
		if c.langs[s].loc != nil {
			t.Fatalf("New parsed the %s catalog", s)
		}
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := c.Text([]string{"ja", "de"}[i%2], "login.title", nil); got != "サインイン" && got != "Anmelden" {
				t.Errorf("login.title = %q", got)
			}
		}()
	}
	wg.Wait()
	for s, want := range map[string]bool{"ja": true, "de": true, "en": false, "fr": false, "es": false} {
		if loaded := c.langs[s].loc != nil; loaded != want {
			t.Errorf("%s catalog loaded: %v, want %v", s, loaded, want)
		}
	}
	c.langs["fr"] = &langCatalog{tag: "no-such-catalog"}
	if got := c.Text("fr", "login.title", nil); got != "Sign in" {
		t.Errorf("a catalog that cannot be read: %q, want English", got)
	}
}
