package httpapi

import (
	"fmt"
	"html/template"
	"sync"
)

// templateSet holds pages parsed once per language (a page renders without cloning or
// escaping anew), each parsed on its first use in that language. load parses and
// checks every page in the default language: serve calls it (Pages.LoadTemplates)
// before it listens, so a broken template stops start-up, while a command that shows
// no page (gatehouse clients list) parses none. A server whose users read one language
// so holds one copy of its pages: about 1.2 MiB of parsed templates each, which in all
// five languages was most of the idle server's heap.
//
// Checking one language is enough: a page's text and the names of its functions are
// the same in every language, only what the functions return differs, so a template
// that parses and runs on an empty view in one parses and runs in all.
type templateSet struct {
	parse func(lang, name string) (*template.Template, error)
	// added and pages are filled while the server is built and only read afterwards:
	// lookups take no lock.
	added []addedPage
	pages map[string]*langTemplate // language + "/" + name
}

// addedPage is a page as add was given it: load checks it in lang with check.
type addedPage struct {
	name, lang string
	check      func(*template.Template) error
}

type langTemplate struct {
	once sync.Once
	t    *template.Template
	err  error
}

func newTemplateSet(parse func(lang, name string) (*template.Template, error)) *templateSet {
	return &templateSet{parse: parse, pages: map[string]*langTemplate{}}
}

// add registers name, to be checked in lang, the default language, with check (nil:
// none) when the set is loaded. Not safe for use once pages are served.
func (s *templateSet) add(name, lang string, check func(*template.Template) error) {
	s.added = append(s.added, addedPage{name: name, lang: lang, check: check})
	for _, l := range languageNames {
		s.pages[l.Code+"/"+name] = &langTemplate{}
	}
}

// load parses every page in its default language and checks it, in the order added;
// the first failure is the error.
func (s *templateSet) load() error {
	for _, a := range s.added {
		t, err := s.get(a.lang, a.name)
		if err == nil && a.check != nil {
			err = a.check(t)
		}
		if err != nil {
			return err
		}
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
