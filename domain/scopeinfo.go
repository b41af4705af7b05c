package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ScopeInfo is a scope an administrator described (gatehouse scopes create): what
// the consent page shows instead of its name, in English and in the other languages
// of the pages.
type ScopeInfo struct {
	Name        string
	Description string
	// Localized holds the descriptions in other languages, by language tag (de, fr,
	// es, ja); a language without one shows Description.
	Localized map[string]string
	CreatedAt time.Time
}

// ScopeDescriptionLocales are the languages a description may be given in besides
// English: those of the pages (SPEC "Pages: languages, branding, accessibility").
var ScopeDescriptionLocales = []string{"de", "fr", "es", "ja"}

// MaxScopeDescription bounds a description, in bytes.
const MaxScopeDescription = 300

// ValidateScopeInfo checks a description before it is stored: one scope token as the
// name, descriptions of plain text (no control characters) within
// MaxScopeDescription, languages among ScopeDescriptionLocales.
func ValidateScopeInfo(s ScopeInfo) error {
	names, err := ParseScope(s.Name)
	if err != nil || len(names) != 1 || names[0] != s.Name {
		return errors.New("the name must be one scope token (printable ASCII, no space, quote or backslash)")
	}
	if err := checkDescription("description", s.Description); err != nil {
		return err
	}
	for lang, d := range s.Localized {
		if !slices.Contains(ScopeDescriptionLocales, lang) {
			return fmt.Errorf("no description language %q (one of %s)", lang, strings.Join(ScopeDescriptionLocales, ", "))
		}
		if err := checkDescription("description-"+lang, d); err != nil {
			return err
		}
	}
	return nil
}

func checkDescription(what, d string) error {
	if strings.TrimSpace(d) == "" {
		return fmt.Errorf("the %s is empty", what)
	}
	if len(d) > MaxScopeDescription || !utf8.ValidString(d) {
		return fmt.Errorf("the %s must be UTF-8 text of at most %d bytes", what, MaxScopeDescription)
	}
	for _, r := range d {
		if unicode.IsControl(r) {
			return fmt.Errorf("the %s must not hold control characters", what)
		}
	}
	return nil
}

// DescriptionIn is the description for the language lang (a tag such as "de" or
// "de-AT"), English when there is none in it.
func (s ScopeInfo) DescriptionIn(lang string) string {
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	if d, ok := s.Localized[base]; ok && d != "" {
		return d
	}
	return s.Description
}
