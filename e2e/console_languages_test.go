package e2e

// The admin console speaks the pages' languages (SPEC "Pages: languages, branding,
// accessibility"): the footer switcher's choice (?lang=, then its cookie) or the
// browser's Accept-Language picks the language of every console page, its form
// errors and its error pages.

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestConsole_Languages signs an administrator in to the console with ?lang=de and
// with Accept-Language: ja, and reads the dashboard, the clients list, a form error
// and a missing record's page in that language.
func TestConsole_Languages(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	_, name, pass := newConsoleAdmin(t, srv)
	for _, tc := range []struct {
		lang, via                                    string
		browser                                      func() *azBrowser
		dashboard, ok, clients, newClient, enterName string
		notFound, chart, navLabel, taken, date       string
		caption                                      string
		plainHTTP                                    string
	}{
		{lang: "de", via: "?lang=de", browser: func() *azBrowser { return newAZBrowser(t, srv) },
			dashboard: "Übersicht", ok: "Erfolgreiche Anmeldungen", clients: "Clients", newClient: "Neuer Client",
			enterName: "Geben Sie einen Namen ein.", taken: "Dieser Benutzername ist bereits vergeben.",
			date: `>\d{1,2}\.\d{1,2}\.\d{4}, \d\d:\d\d UTC</td>`, notFound: "Nicht gefunden",
			caption: "ausgestellte Tokens, wie jede Instanz sie zählt",
			chart:   "Anmeldungen und ausgestellte Tokens, letzte 24 Stunden", navLabel: `aria-label="Konsole"`,
			plainHTTP: "„http://shop.example/cb“: einfaches http ist nur auf diesem Rechner erlaubt"},
		{lang: "ja", via: "Accept-Language: ja", browser: func() *azBrowser { return langBrowser(t, srv, "ja,en;q=0.5") },
			dashboard: "ダッシュボード", ok: "成功したサインイン", clients: "クライアント", newClient: "新しいクライアント",
			enterName: "名前を入力してください。", taken: "そのユーザー名はすでに使われています。",
			date: `>\d{4}/\d\d/\d\d \d\d:\d\d UTC</td>`, notFound: "見つかりません",
			caption: "発行したトークンは各インスタンスが数え",
			chart:   "サインインと発行したトークン（直近 24 時間）", navLabel: `aria-label="コンソール"`,
			plainHTTP: "「http://shop.example/cb」: 暗号化されていない http はこのマシン"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			b := tc.browser()
			target := "/admin"
			if strings.HasPrefix(tc.via, "?") {
				target += tc.via
			}
			page := consoleSignIn(t, b, target, name, pass)
			if page.Status != http.StatusOK {
				t.Fatalf("%s: the dashboard: %d\n%s", tc.via, page.Status, page.Body)
			}
			wantLang(t, "the dashboard", page, tc.lang, `<h1 id="page-title">`+tc.dashboard+`</h1>`, tc.ok, tc.chart, tc.navLabel,
				tc.caption)
			if keys := b.get("/admin/keys"); !regexp.MustCompile(tc.date).Match(keys.Body) {
				t.Errorf("the keys' dates are not in the %s form %s\n%s", tc.lang, tc.date, keys.Body)
			}
			if strings.Contains(string(page.Body), "Sign-ins succeeded") {
				t.Errorf("the %s dashboard still says %q", tc.lang, "Sign-ins succeeded")
			}
			// The switcher's cookie (or the header) carries the language to the next pages.
			clients := b.get("/admin/clients")
			wantLang(t, "the clients list", clients, tc.lang, `<h1 id="page-title">`+tc.clients+`</h1>`, tc.newClient,
				`hreflang="en"`)
			form := b.get("/admin/clients/new")
			wantLang(t, "the new client form", form, tc.lang, tc.newClient)
			r := b.post("/admin/clients", url.Values{"csrf_token": {consoleCSRF(t, form)}, "client_name": {" "},
				"grant_authorization_code": {"1"}, "redirect_uris": {"https://app.example/cb"}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("a client without a name: %d, want 400\n%s", r.Status, r.Body)
			}
			wantLang(t, "a client without a name", r, tc.lang, tc.enterName)
			// A client rule's refusal (domain.FieldError) under its field, in the language.
			r = b.post("/admin/clients", url.Values{"csrf_token": {consoleCSRF(t, form)}, "client_name": {"Shop " + tc.lang},
				"grant_authorization_code": {"1"}, "redirect_uris": {"http://shop.example/cb"}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("a plain http redirect URI: %d, want 400\n%s", r.Status, r.Body)
			}
			wantLang(t, "a plain http redirect URI", r, tc.lang, `id="redirect_uris-error">`+tc.plainHTTP)
			// A use case's refusal, next to its field, in the language too.
			userForm := b.get("/admin/users/new")
			r = b.post("/admin/users", url.Values{"csrf_token": {consoleCSRF(t, userForm)}, "username": {name},
				"password": {"long enough password"}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("a taken username: %d, want 400\n%s", r.Status, r.Body)
			}
			wantLang(t, "a taken username", r, tc.lang, tc.taken)
			missing := b.get("/admin/clients/no-such-client")
			if missing.Status != http.StatusNotFound {
				t.Fatalf("a missing client: %d, want 404", missing.Status)
			}
			wantLang(t, "a missing client", missing, tc.lang, tc.notFound)
		})
	}
}
