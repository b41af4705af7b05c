package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Brand is how the pages present the server (issue 25): a name instead of
// "Gatehouse", a logo instead of the built-in mark, a colour for the primary button
// and accents. Zero values keep Gatehouse's own.
type Brand struct {
	// Name replaces "Gatehouse" in the page header and titles.
	Name string
	// LogoURL is an https URL or a path on this server (/static/…); the pages'
	// Content-Security-Policy then allows images from its origin.
	LogoURL string
	// Color is #rgb or #rrggbb.
	Color string
}

var brandColorRE = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// CheckBrandColor tells whether s is a colour GATEHOUSE_BRAND_COLOR accepts.
func CheckBrandColor(s string) error {
	if !brandColorRE.MatchString(s) {
		return fmt.Errorf("%q is not a hex colour (#rgb or #rrggbb)", s)
	}
	return nil
}

// CheckBrandLogoURL tells whether s is a logo URL GATEHOUSE_BRAND_LOGO_URL accepts: an
// absolute https URL with a host, or a path on this server.
func CheckBrandLogoURL(s string) error {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.ContainsAny(s, "\\ \"'<>") {
		return nil
	}
	u, err := url.Parse(s)
	if err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil && cspSource(s) != "" {
		return nil
	}
	return fmt.Errorf("%q must be an https URL or a path on this server starting with /", s)
}

// TemplateError is a template override (GATEHOUSE_TEMPLATES_DIR) that does not
// parse: start-up stops (the CLI exits 2) with one line naming the file.
type TemplateError struct {
	File string
	Err  error
}

func (e *TemplateError) Error() string {
	return "GATEHOUSE_TEMPLATES_DIR: " + e.File + ": " + strings.ReplaceAll(e.Err.Error(), "\n", " ")
}

func (e *TemplateError) Unwrap() error { return e.Err }

// templateErr passes a TemplateError on as it is (its one line names the file), and
// wraps any other failure with the page it stopped.
func templateErr(what, name string, err error) error {
	var te *TemplateError
	if errors.As(err, &te) {
		return te
	}
	return fmt.Errorf("%s: template %s: %w", what, name, err)
}

// theme holds the brand and the files of GATEHOUSE_TEMPLATES_DIR that replace
// embedded ones, by file name (login.html, gatehouse.css, …).
type theme struct {
	brand     Brand
	overrides map[string][]byte
	dir       string
	ignored   []string // files of dir that name nothing we serve
}

// staticTypes are the stylesheet, icon and script the pages link; brand.css is
// generated from the brand and cannot be overridden (gatehouse.css can).
var staticTypes = map[string]string{
	"gatehouse.css": "text/css; charset=utf-8",
	"favicon.svg":   "image/svg+xml",
	"webauthn.js":   "text/javascript; charset=utf-8",
}

// newTheme reads dir (when set): each file named like an embedded template or
// static file replaces it; any other file is ignored (logOverrides warns).
func newTheme(brand Brand, dir string) (*theme, error) {
	th := &theme{brand: brand, overrides: map[string][]byte{}, dir: dir}
	if brand.Color != "" {
		if err := CheckBrandColor(brand.Color); err != nil {
			return nil, fmt.Errorf("GATEHOUSE_BRAND_COLOR: %w", err)
		}
	}
	if brand.LogoURL != "" {
		if err := CheckBrandLogoURL(brand.LogoURL); err != nil {
			return nil, fmt.Errorf("GATEHOUSE_BRAND_LOGO_URL: %w", err)
		}
	}
	if dir == "" {
		return th, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &TemplateError{File: dir, Err: err}
	}
	known := map[string]bool{}
	embedded, _ := fs.Glob(templateFS, "templates/*.html")
	for _, p := range embedded {
		known[filepath.Base(p)] = true
	}
	for name := range staticTypes {
		known[name] = true
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if !known[e.Name()] {
			th.ignored = append(th.ignored, filepath.Join(dir, e.Name()))
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, &TemplateError{File: filepath.Join(dir, e.Name()), Err: err}
		}
		th.overrides[e.Name()] = b
	}
	return th, nil
}

// logOverrides says, once the templates loaded, which files replace embedded ones
// and warns about the files it ignores (a typo must not go unnoticed; a README next
// to the templates must not stop the server).
func (th *theme) logOverrides(log *slog.Logger) {
	for _, f := range th.ignored {
		log.Warn("GATEHOUSE_TEMPLATES_DIR: ignoring a file that names no template or stylesheet", "file", f)
	}
	if len(th.overrides) > 0 {
		log.Info("page overrides from GATEHOUSE_TEMPLATES_DIR", "dir", th.dir,
			"files", strings.Join(slices.Sorted(maps.Keys(th.overrides)), ","))
	}
}

// funcs are the functions every page template may call: the brand. branded tells
// that GATEHOUSE_BRAND_NAME is set: the pages then no longer name Gatehouse.
func (th *theme) funcs() template.FuncMap {
	name := th.brand.Name
	if name == "" {
		name = "Gatehouse"
	}
	return template.FuncMap{
		"brandName": func() string { return name },
		"brandLogo": func() string { return th.brand.LogoURL },
		"branded":   func() bool { return th.brand.Name != "" },
	}
}

// parse builds the template name from files (layout.html, …), each the override's
// when there is one, else the embedded one, with extra functions.
func (th *theme) parse(name string, extra template.FuncMap, files ...string) (*template.Template, error) {
	t := template.New(name).Funcs(th.funcs())
	if extra != nil {
		t = t.Funcs(extra)
	}
	for _, f := range files {
		src, over := th.overrides[f]
		if !over {
			b, err := fs.ReadFile(templateFS, "templates/"+f)
			if err != nil {
				return nil, fmt.Errorf("read embedded template %s: %w", f, err)
			}
			src = b
		}
		if _, err := t.New(f).Parse(string(src)); err != nil {
			if over {
				return nil, &TemplateError{File: filepath.Join(th.dir, f), Err: err}
			}
			return nil, fmt.Errorf("parse template %s: %w", f, err)
		}
	}
	if t.Lookup("layout") == nil {
		return nil, &TemplateError{File: filepath.Join(th.dir, "layout.html"), Err: errors.New(`no {{define "layout"}}`)}
	}
	return t, nil
}

// tryExecute runs an overridden page once on an empty view, so that a template
// naming a field the page does not have stops start-up instead of failing each
// request. Only for pages with an override among files.
func (th *theme) tryExecute(t *template.Template, data any, files ...string) error {
	var over string
	for _, f := range files {
		if _, ok := th.overrides[f]; ok {
			over = f
		}
	}
	if over == "" {
		return nil
	}
	if err := t.ExecuteTemplate(&bytes.Buffer{}, "layout", data); err != nil {
		return &TemplateError{File: filepath.Join(th.dir, over), Err: err}
	}
	return nil
}

// static returns the stylesheet, icon and script, each the override's when there is one.
func (th *theme) static() (map[string]staticFile, error) {
	out := map[string]staticFile{}
	for name, ct := range staticTypes {
		b, ok := th.overrides[name]
		if !ok {
			var err error
			if b, err = fs.ReadFile(staticFS, "static/"+name); err != nil {
				return nil, fmt.Errorf("pages: read static file %s: %w", name, err)
			}
		}
		out[name] = staticFile{body: b, contentType: ct}
	}
	out["brand.css"] = staticFile{body: []byte(th.brandCSS()), contentType: "text/css; charset=utf-8"}
	return out, nil
}

// brandCSS is /static/brand.css: the brand colour as custom properties that
// gatehouse.css uses (no inline style: the CSP has no 'unsafe-inline'), with a text
// colour for it chosen for contrast (WCAG AA), and a hover shade.
func (th *theme) brandCSS() string {
	if th.brand.Color == "" {
		return "/* No GATEHOUSE_BRAND_COLOR: gatehouse.css's own colours. */\n"
	}
	r, g, b := hexRGB(th.brand.Color)
	text := "#ffffff"
	if contrast(r, g, b, 0xff, 0xff, 0xff) < contrast(r, g, b, 0, 0, 0) {
		text = "#000000"
	}
	hover := fmt.Sprintf("#%02x%02x%02x", int(float64(r)*.85), int(float64(g)*.85), int(float64(b)*.85))
	if text == "#000000" { // a light colour gets lighter on hover, keeping the dark text readable
		hover = fmt.Sprintf("#%02x%02x%02x", r+(255-r)/4, g+(255-g)/4, b+(255-b)/4)
	}
	return fmt.Sprintf(":root { --brand: #%02x%02x%02x; --brand-hover: %s; --brand-text: %s; }\n", r, g, b, hover, text)
}

func hexRGB(s string) (r, g, b int) {
	h := strings.TrimPrefix(s, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	v, _ := strconv.ParseUint(h, 16, 32)
	return int(v >> 16 & 0xff), int(v >> 8 & 0xff), int(v & 0xff)
}

// contrast is the WCAG 2.1 contrast ratio of two sRGB colours.
func contrast(r1, g1, b1, r2, g2, b2 int) float64 {
	l1, l2 := luminance(r1, g1, b1), luminance(r2, g2, b2)
	if l1 < l2 {
		l1, l2 = l2, l1
	}
	return (l1 + .05) / (l2 + .05)
}

func luminance(r, g, b int) float64 {
	ch := func(c int) float64 {
		x := float64(c) / 255
		if x <= .03928 {
			return x / 12.92
		}
		return math.Pow((x+.055)/1.055, 2.4)
	}
	return .2126*ch(r) + .7152*ch(g) + .0722*ch(b)
}

// csp is the pages' Content-Security-Policy: nothing but our own stylesheet, images
// (and data: images: the QR code of an authenticator app is drawn by the server
// inline; and the brand logo's origin) and script (one file, the passkeys'
// webauthn.js; nothing inline); forms post only to us; no framing (clickjacking,
// SECURITY S41).
func (th *theme) csp() string {
	img := "'self' data:"
	if strings.HasPrefix(th.brand.LogoURL, "https://") {
		if src := cspSource(th.brand.LogoURL); src != "" {
			img += " " + src
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + img +
		"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}
