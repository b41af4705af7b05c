// Package i18n holds the message catalogs of the pages and mails (English, German,
// French, Spanish, Japanese), embedded in the binary, and chooses a language among
// them from a user's preferences (ui_locales, a cookie, Accept-Language).
package i18n

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"encoding/json"
)

//go:embed locales/*.json
var localeFS embed.FS

// Supported are the languages the catalogs hold, English (the source) first.
var Supported = []string{"en", "de", "fr", "es", "ja"}

// IsSupported tells whether tag names one of the catalogs exactly.
func IsSupported(tag string) bool {
	for _, s := range Supported {
		if s == tag {
			return true
		}
	}
	return false
}

// Catalog translates message keys into the supported languages. Each language's
// catalog is parsed on its first use: a command-line call that shows no page parses
// none, and a server parses those its users read.
type Catalog struct {
	langs    map[string]*langCatalog
	matcher  language.Matcher
	tags     []language.Tag
	fallback string
}

// langCatalog is one language's messages, loaded once.
type langCatalog struct {
	tag  string
	once sync.Once
	loc  *goi18n.Localizer
	err  error
}

// localizer returns the language's messages, parsing its catalog on first use.
func (l *langCatalog) localizer() (*goi18n.Localizer, error) {
	l.once.Do(func() {
		b := goi18n.NewBundle(language.Make(l.tag))
		b.RegisterUnmarshalFunc("json", json.Unmarshal)
		data, err := fs.ReadFile(localeFS, path.Join("locales", l.tag+".json"))
		if err == nil {
			_, err = b.ParseMessageFileBytes(data, l.tag+".json")
		}
		if err != nil {
			l.err = fmt.Errorf("i18n: catalog %s: %w", l.tag, err)
			return
		}
		l.loc = goi18n.NewLocalizer(b, l.tag)
	})
	return l.loc, l.err
}

// New prepares the embedded catalogs; fallback is the language Match answers when no
// preference matches (GATEHOUSE_DEFAULT_LOCALE).
func New(fallback string) (*Catalog, error) {
	if !IsSupported(fallback) {
		return nil, fmt.Errorf("i18n: unsupported default locale %q (one of %s)", fallback, strings.Join(Supported, ", "))
	}
	c := &Catalog{langs: map[string]*langCatalog{}, fallback: fallback}
	for _, s := range Supported {
		c.langs[s] = &langCatalog{tag: s}
		c.tags = append(c.tags, language.Make(s))
	}
	c.matcher = language.NewMatcher(c.tags)
	return c, nil
}

// Default is the language used when no preference matches.
func (c *Catalog) Default() string { return c.fallback }

// Match picks the language for a page from preferences in order of precedence, each
// a space-separated list (ui_locales), a single tag (cookie) or an Accept-Language
// header; the first preference that matches a supported language wins.
func (c *Catalog) Match(preferences ...string) string {
	for _, p := range preferences {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if len(p) > 256 {
			p = p[:256]
		}
		var tags []language.Tag
		if strings.ContainsAny(p, ",;") {
			tags, _, _ = language.ParseAcceptLanguage(p)
		} else {
			for _, f := range strings.Fields(p) {
				if t, err := language.Parse(f); err == nil {
					tags = append(tags, t)
				}
			}
		}
		for _, t := range tags {
			// Each tag on its own, so that an unsupported first choice does not
			// hide a supported later one behind the fallback.
			_, i, conf := c.matcher.Match(t)
			if conf >= language.High {
				return Supported[i]
			}
			base, _ := t.Base()
			for j, s := range Supported {
				if s == base.String() {
					return Supported[j]
				}
			}
		}
	}
	return c.fallback
}

// Text is the message key in the language locale (a supported language, or a tag
// matching one, else the default), with its {{.Name}} placeholders filled from args;
// English where that language lacks the key. A key missing from the catalogs comes
// back as itself, so a mistake shows rather than hides.
func (c *Catalog) Text(locale, key string, args map[string]string) string {
	l, ok := c.langs[locale]
	if !ok {
		// A user's locale claim may be a longer tag (de-CH) or unsupported.
		l = c.langs[c.Match(locale)]
	}
	var data map[string]any
	if len(args) > 0 {
		data = make(map[string]any, len(args))
		for k, v := range args {
			data[k] = v
		}
	}
	tries := []*langCatalog{l}
	if en := c.langs["en"]; l != en {
		tries = append(tries, en)
	}
	for _, l := range tries {
		loc, err := l.localizer()
		if err != nil {
			continue
		}
		if s, err := loc.Localize(&goi18n.LocalizeConfig{MessageID: key, TemplateData: data}); err == nil && s != "" {
			return s
		}
	}
	return key
}

// Has tells whether the English catalog holds key.
func (c *Catalog) Has(key string) bool {
	loc, err := c.langs["en"].localizer()
	if err != nil {
		return false
	}
	_, err = loc.Localize(&goi18n.LocalizeConfig{MessageID: key})
	return err == nil
}
