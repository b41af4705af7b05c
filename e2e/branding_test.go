package e2e

// Issue 25: branding (GATEHOUSE_BRAND_NAME, _LOGO_URL, _COLOR) and template overrides
// (GATEHOUSE_TEMPLATES_DIR), through the real binary.

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPages25_BadBrandingStopsStartUp: a bad brand value, or a template override that
// does not parse or names a field the page lacks, stops `gatehouse serve` with exit 2
// and one stderr line naming the variable or the file. The commands, which show no
// page, still run: an operator can fix the theme and manage users meanwhile.
func TestPages25_BadBrandingStopsStartUp(t *testing.T) {
	t.Parallel()
	bad := func(files map[string]string) string {
		dir := t.TempDir()
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	unparsable := bad(map[string]string{"consent.html": `{{define "content"}}{{if .ClientName}}<h1>x</h1>{{end}`})
	noField := bad(map[string]string{"login.html": `{{define "content"}}<h1 id="page-title">{{.NoSuchField}}</h1>{{end}}`})
	badLayout := bad(map[string]string{"layout.html": `{{define "layout"}}<html>{{template "content" .}}`})
	badDevice := bad(map[string]string{"device.html": `{{define "content"}}{{range}}{{end}}`})
	for _, tc := range []struct{ variable, value, mention string }{
		{"GATEHOUSE_BRAND_COLOR", "blue", "GATEHOUSE_BRAND_COLOR"},
		{"GATEHOUSE_BRAND_COLOR", "#12", "GATEHOUSE_BRAND_COLOR"},
		{"GATEHOUSE_BRAND_LOGO_URL", "http://cdn.example/logo.png", "GATEHOUSE_BRAND_LOGO_URL"},
		{"GATEHOUSE_TEMPLATES_DIR", filepath.Join(t.TempDir(), "none"), "GATEHOUSE_TEMPLATES_DIR"},
		{"GATEHOUSE_TEMPLATES_DIR", unparsable, filepath.Join(unparsable, "consent.html")},
		{"GATEHOUSE_TEMPLATES_DIR", noField, filepath.Join(noField, "login.html")},
		{"GATEHOUSE_TEMPLATES_DIR", badLayout, filepath.Join(badLayout, "layout.html")},
		{"GATEHOUSE_TEMPLATES_DIR", badDevice, filepath.Join(badDevice, "device.html")},
	} {
		out, errOut, code := runCLI(t, cliEnv(t, map[string]string{tc.variable: tc.value}), "", "serve")
		wantUsage(t, tc.variable+"="+tc.value, out, errOut, code, tc.mention)
	}
	env := cliEnv(t, map[string]string{"GATEHOUSE_TEMPLATES_DIR": noField})
	for _, args := range [][]string{{"migrate"}, {"clients", "create", "--name", "Acme", "--redirect-uri", "https://acme.example/cb"},
		{"clients", "list"}} {
		if out, errOut, code := runCLI(t, env, "", args...); code != 0 || strings.Contains(errOut, "login.html") {
			t.Errorf("gatehouse %s with a broken template override: exit %d, %q %q", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// TestPages25_BrandShows: the brand's name is in every page's header and title, its
// logo replaces the mark (and its origin is in the CSP's img-src, nothing else
// widened), and /static/brand.css carries its colour with a readable text colour.
func TestPages25_BrandShows(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{
		"GATEHOUSE_BRAND_NAME": "Acme <ID>", "GATEHOUSE_BRAND_LOGO_URL": "https://cdn.acme.example/brand/logo.svg",
		"GATEHOUSE_BRAND_COLOR": "#FD0",
	}})
	hc := srv.HTTPClient()
	for _, path := range []string{"/login", "/register", "/device", "/forgot-password", "/logout", "/consent?req=nope"} {
		r := srv.Get(t, hc, path)
		body := string(r.Body)
		for _, want := range []string{"<title>", "· Acme &lt;ID&gt;</title>", `<span>Acme &lt;ID&gt;</span>`,
			`<img class="logo" src="https://cdn.acme.example/brand/logo.svg" alt=""`, `href="/static/brand.css"`} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s: the page lacks %q\n%.1500s", path, want, body)
			}
		}
		if strings.Contains(body, "<svg class=\"logo\"") {
			t.Errorf("GET %s: the built-in mark is shown next to the brand's logo", path)
		}
		if strings.Contains(body, "Protected by Gatehouse") {
			t.Errorf("GET %s: the footer names Gatehouse under a brand", path)
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "img-src 'self' data: https://cdn.acme.example;") || strings.Contains(csp, "unsafe-inline") ||
			!strings.Contains(csp, "style-src 'self';") {
			t.Errorf("GET %s: CSP %q, want img-src widened to the logo's origin only", path, csp)
		}
	}
	r := srv.Get(t, hc, "/static/brand.css")
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("brand.css: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	// #FD0 (yellow) is light: dark text on it.
	if css := string(r.Body); !strings.Contains(css, "--brand: #ffdd00;") || !strings.Contains(css, "--brand-text: #000000;") {
		t.Errorf("brand.css: %s", css)
	}
	if css := string(srv.Get(t, hc, "/static/gatehouse.css").Body); !strings.Contains(css, "var(--brand)") {
		t.Error("gatehouse.css does not use the brand colour")
	}

	plain := sharedServer(t)
	r = plain.Get(t, plain.HTTPClient(), "/login")
	if !strings.Contains(string(r.Body), "<span>Gatehouse</span>") || !strings.Contains(string(r.Body), `<svg class="logo"`) ||
		!strings.Contains(string(r.Body), "Protected by Gatehouse") ||
		!strings.Contains(r.Header.Get("Content-Security-Policy"), "img-src 'self' data:;") {
		t.Errorf("without a brand: want Gatehouse's name and mark and the plain CSP")
	}
	if css := plain.Get(t, plain.HTTPClient(), "/static/brand.css"); css.Status != http.StatusOK || strings.Contains(string(css.Body), "--brand:") {
		t.Errorf("brand.css without a brand colour: %d %s", css.Status, css.Body)
	}
}

// TestPages25_TemplateOverrides: a file of GATEHOUSE_TEMPLATES_DIR replaces the
// embedded template or stylesheet of its name; other pages keep theirs; a file of
// another name is ignored with a warning naming it.
func TestPages25_TemplateOverrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	loginSrc, err := os.ReadFile("../adapter/httpapi/templates/login.html")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"login.html":    strings.Replace(string(loginSrc), `<h1 id="page-title">{{t "login.title"}}</h1>`, `<h1 id="page-title">Welcome to Acme</h1><p class="acme-note">Staff only.</p>`, 1),
		"gatehouse.css": "/* acme stylesheet */ body { font-family: serif; }\n",
		"README.txt":    "notes for the operators\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_TEMPLATES_DIR": dir}})
	hc := srv.HTTPClient()
	if body := string(srv.Get(t, hc, "/login").Body); !strings.Contains(body, "Welcome to Acme") || !strings.Contains(body, "Staff only.") ||
		!strings.Contains(body, `name="csrf_token"`) {
		t.Errorf("the overridden login page:\n%.1500s", body)
	}
	if body := string(srv.Get(t, hc, "/register").Body); !strings.Contains(body, "Create") || strings.Contains(body, "Welcome to Acme") {
		t.Errorf("the register page should be the embedded one:\n%.800s", body)
	}
	if css := srv.Get(t, hc, "/static/gatehouse.css"); string(css.Body) != files["gatehouse.css"] {
		t.Errorf("gatehouse.css: %.200s, want the override", css.Body)
	}
	// The sign-in still works through the overridden page.
	user := uniqueName("ov")
	srv.CreateUser(t, user, "correct horse battery staple")
	b := newAZBrowser(t, srv)
	if r := b.logIn("/login", user, "correct horse battery staple"); r.Status != http.StatusSeeOther {
		t.Errorf("sign in through the overridden page: %d", r.Status)
	}
	if log := srv.Log(); !strings.Contains(log, "README.txt") || !strings.Contains(log, "GATEHOUSE_TEMPLATES_DIR") {
		t.Errorf("no warning about README.txt in the log:\n%s", tail(log, 3000))
	}
}
