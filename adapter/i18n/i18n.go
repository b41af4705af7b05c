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

// Catalog translates message keys into the supported languages.
type Catalog struct {
	bundle     *goi18n.Bundle
	localizers map[string]*goi18n.Localizer
	matcher    language.Matcher
	tags       []language.Tag
	fallback   string
}

// New loads the embedded catalogs; fallback is the language Match answers when no
// preference matches (GATEHOUSE_DEFAULT_LOCALE).
func New(fallback string) (*Catalog, error) {
	if !IsSupported(fallback) {
		return nil, fmt.Errorf("i18n: unsupported default locale %q (one of %s)", fallback, strings.Join(Supported, ", "))
	}
	b := goi18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	c := &Catalog{bundle: b, localizers: map[string]*goi18n.Localizer{}, fallback: fallback}
	for _, s := range Supported {
		data, err := fs.ReadFile(localeFS, path.Join("locales", s+".json"))
		if err != nil {
			return nil, fmt.Errorf("i18n: read catalog %s: %w", s, err)
		}
		if _, err := b.ParseMessageFileBytes(data, s+".json"); err != nil {
			return nil, fmt.Errorf("i18n: parse catalog %s: %w", s, err)
		}
		c.localizers[s] = goi18n.NewLocalizer(b, s)
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
// matching one, else the default), with its {{.Name}} placeholders filled from args. A key missing from
// the catalogs comes back as itself, so a mistake shows rather than hides.
func (c *Catalog) Text(locale, key string, args map[string]string) string {
	l, ok := c.localizers[locale]
	if !ok {
		// A user's locale claim may be a longer tag (de-CH) or unsupported.
		l = c.localizers[c.Match(locale)]
	}
	var data map[string]any
	if len(args) > 0 {
		data = make(map[string]any, len(args))
		for k, v := range args {
			data[k] = v
		}
	}
	s, err := l.Localize(&goi18n.LocalizeConfig{MessageID: key, TemplateData: data})
	if err != nil || s == "" {
		return key
	}
	return s
}

// Has tells whether the English catalog holds key.
func (c *Catalog) Has(key string) bool {
	_, err := c.localizers["en"].Localize(&goi18n.LocalizeConfig{MessageID: key})
	return err == nil
}
