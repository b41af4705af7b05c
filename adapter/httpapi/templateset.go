package httpapi

import (
	"fmt"
	"html/template"
	"sync"
)

// templateSet holds pages parsed once per language (a page renders without cloning or
// escaping anew), each parsed on its first use in that language but the default
// language's, parsed and checked at start-up. A server whose users read one language
// so holds one copy of its pages: about 1.2 MiB of parsed templates each, which in all
// five languages was most of the idle server's heap.
//
// Checking one language is enough: a page's text and the names of its functions are
// the same in every language, only what the functions return differs, so a template
// that parses and runs on an empty view in one parses and runs in all.
type templateSet struct {
	parse func(lang, name string) (*template.Template, error)
	// pages is filled while the server is built and only read afterwards: lookups
	// take no lock.
	pages map[string]*langTemplate // language + "/" + name
}

type langTemplate struct {
	once sync.Once
	t    *template.Template
	err  error
}

func newTemplateSet(parse func(lang, name string) (*template.Template, error)) *templateSet {
	return &templateSet{parse: parse, pages: map[string]*langTemplate{}}
}

// add parses name in lang, the default language, runs check on it (nil: none) and
// keeps it; the other languages' are parsed on first use. Not safe for use once pages
// are served.
func (s *templateSet) add(name, lang string, check func(*template.Template) error) error {
	t, err := s.parse(lang, name)
	if err == nil && check != nil {
		err = check(t)
	}
	if err != nil {
		return err
	}
	for _, l := range languageNames {
		e := &langTemplate{}
		if l.Code == lang {
			e.once.Do(func() { e.t = t })
		}
		s.pages[l.Code+"/"+name] = e
	}
	return nil
}

// get returns the page name in lang, parsing it on its first use.
func (s *templateSet) get(lang, name string) (*template.Template, error) {
	e, ok := s.pages[lang+"/"+name]
	if !ok {
		return nil, fmt.Errorf("no template %q in %q", name, lang)
	}
	e.once.Do(func() { e.t, e.err = s.parse(lang, name) })
	return e.t, e.err
}
