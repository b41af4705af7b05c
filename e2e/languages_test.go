package e2e

// Languages of the pages and mails (issue 25, SPEC "Pages: languages, branding,
// accessibility"): ui_locales, then the switcher's cookie, then Accept-Language, then
// GATEHOUSE_DEFAULT_LOCALE; <html lang> says which.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// langTransport adds an Accept-Language header to every request.
type langTransport struct {
	base   http.RoundTripper
	accept string
}

func (l langTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Language", l.accept)
	return l.base.RoundTrip(r)
}

// langBrowser is an azBrowser whose requests all say Accept-Language: accept.
func langBrowser(t *testing.T, srv *Server, accept string) *azBrowser {
	t.Helper()
	b := newAZBrowser(t, srv)
	base := b.hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	b.hc.Transport = langTransport{base: base, accept: accept}
	return b
}

func wantLang(t *testing.T, what string, r Response, lang string, texts ...string) {
	t.Helper()
	body := string(r.Body)
	if !strings.Contains(body, `<html lang="`+lang+`">`) {
		i := strings.Index(body, "<html")
		t.Errorf("%s: want <html lang=%q>, got %.40q", what, lang, body[max(i, 0):])
	}
	for _, s := range texts {
		if !strings.Contains(body, s) {
			t.Errorf("%s (%s): the page lacks %q\n%s", what, lang, s, body)
		}
	}
}

// TestLanguages_AcceptLanguage: each language by the browser's Accept-Language, on a
// page, an error page and the registration page; an unsupported language is English.
func TestLanguages_AcceptLanguage(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	for _, tc := range []struct {
		accept, lang                string
		signIn, notFound, createAcc string
	}{
		{"en-US,en;q=0.9", "en", "Sign in", "Page not found", "Create your account"},
		{"de-DE,de;q=0.9,en;q=0.5", "de", "Anmelden", "Seite nicht gefunden", "Konto erstellen"},
		{"fr-CA,fr;q=0.9", "fr", "Se connecter", "Page introuvable", "Créer votre compte"},
		{"es", "es", "Iniciar sesión", "Página no encontrada", "Crea tu cuenta"},
		{"ja,en;q=0.1", "ja", "サインイン", "ページが見つかりません", "アカウントを作成"},
		{"zh-CN,pt;q=0.8", "en", "Sign in", "Page not found", "Create your account"},
	} {
		b := langBrowser(t, srv, tc.accept)
		login := b.get("/login")
		wantLang(t, "GET /login", login, tc.lang, "<h1 id=\"page-title\">"+tc.signIn+"</h1>", tc.signIn+" · Gatehouse")
		wantLang(t, "404 page", b.get("/login/typo"), tc.lang, tc.notFound)
		wantLang(t, "GET /register", b.get("/register"), tc.lang, tc.createAcc)
		forgot := map[string]string{"en": "Send the link", "de": "Link senden", "fr": "Envoyer le lien", "es": "Enviar el enlace", "ja": "リンクを送信"}[tc.lang]
		wantLang(t, "GET /forgot-password", b.get("/forgot-password"), tc.lang, forgot)
		badLink := map[string]string{"en": "This link cannot be used", "de": "Dieser Link kann nicht verwendet werden",
			"fr": "Ce lien ne peut pas être utilisé", "es": "Este enlace no se puede usar", "ja": "このリンクは使用できません"}[tc.lang]
		wantLang(t, "a bad reset link", b.get("/reset-password?token=not-a-real-token"), tc.lang, badLink)
		// A wrong password, answered in the language.
		csrf, _ := azFormFields(t, login)
		bad := b.post("/login", url.Values{"csrf_token": {csrf}, "username": {"nobody-" + tc.lang}, "password": {"wrong password"}})
		want := map[string]string{"en": "Incorrect username or password.", "de": "Benutzername oder Passwort ist falsch.",
			"fr": "Nom d’utilisateur ou mot de passe incorrect.", "es": "Nombre de usuario o contraseña incorrectos.",
			"ja": "ユーザー名またはパスワードが正しくありません。"}[tc.lang]
		wantLang(t, "POST /login wrong password", bad, tc.lang, want)
	}
}

// TestLanguages_UILocalesBeatAcceptLanguage: ui_locales chooses the language of a
// whole authorization request's pages (login with its error, consent with its scope
// descriptions) over Accept-Language; another request without it follows
// Accept-Language again.
func TestLanguages_UILocalesBeatAcceptLanguage(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	user := uniqueName("kenji")
	srv.CreateUser(t, user, "correct horse battery")
	c := newAZClient(t, srv, "https://app.example.com/cb", "--name", "Lang App")
	b := langBrowser(t, srv, "de-DE,de;q=0.9")

	q := azQuery(c, newAZPKCE(), "s1", "ui_locales", "xx ja-JP de", "scope", "openid profile email offline_access")
	r := b.get("/oauth/authorize?" + q.Encode())
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/login") {
		t.Fatalf("want the login page, got %d %q", r.Status, loc)
	}
	page := b.get(loc)
	wantLang(t, "login page", page, "ja", "サインイン", "Lang App")
	csrf, req := azFormFields(t, page)
	bad := b.post("/login", url.Values{"csrf_token": {csrf}, "req": {req}, "username": {user}, "password": {"wrong"}})
	wantLang(t, "login error", bad, "ja", "ユーザー名またはパスワードが正しくありません。")
	csrf, _ = azFormFields(t, bad)
	ok := b.post("/login", url.Values{"csrf_token": {csrf}, "req": {req}, "username": {user}, "password": {"correct horse battery"}})
	loc = ok.Header.Get("Location")
	if !strings.HasPrefix(loc, "/consent") {
		t.Fatalf("want the consent page, got %d %q\n%s", ok.Status, loc, ok.Body)
	}
	consent := b.get(loc)
	wantLang(t, "consent page", consent, "ja", "アクセスを許可しますか？", "許可", "拒否",
		"メールアドレスの参照", "サインイン状態の維持：不在中もアクセスを保持", "としてサインインしています。")
	csrf, req = azFormFields(t, consent)
	done := b.post("/consent", url.Values{"csrf_token": {csrf}, "req": {req}, "decision": {"allow"}})
	if u, _ := url.Parse(done.Header.Get("Location")); done.Status != http.StatusSeeOther || u.Query().Get("code") == "" {
		t.Fatalf("consent: %d %q", done.Status, done.Header.Get("Location"))
	}

	// The next request, without ui_locales, is in the browser's language.
	c2 := newAZClient(t, srv, "https://app.example.com/cb", "--name", "Second App")
	q = azQuery(c2, newAZPKCE(), "s2", "scope", "openid email")
	r = b.get("/oauth/authorize?" + q.Encode())
	if loc = r.Header.Get("Location"); !strings.HasPrefix(loc, "/consent") {
		t.Fatalf("want the consent page, got %d %q", r.Status, loc)
	}
	wantLang(t, "second consent page", b.get(loc), "de", "Zugriff erlauben?", "Ihre E-Mail-Adresse sehen", "Second App")

	// An error page of a request with ui_locales is in its language too; the
	// client's error JSON stays English.
	wantLang(t, "error page", b.get("/oauth/authorize?"+url.Values{"client_id": {"no-such-client"}, "ui_locales": {"fr"}}.Encode()), "fr")
}

// TestLanguages_SwitcherCookie: ?lang= (the footer's links) sets the gatehouse_lang
// cookie for a year, SameSite=Lax, which then beats Accept-Language but not
// ui_locales; the footer links keep the pending request.
func TestLanguages_SwitcherCookie(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	b := langBrowser(t, srv, "de")
	page := b.get("/login")
	wantLang(t, "before", page, "de", `href="/login?lang=fr"`, `lang="ja" hreflang="ja"`, ">日本語</a>", `aria-current="true">Deutsch</a>`)
	r := b.get("/login?lang=fr")
	wantLang(t, "switched", r, "fr", "Se connecter")
	sc := r.Header.Get("Set-Cookie")
	for _, want := range []string{"gatehouse_lang=fr", "Max-Age=31536000", "SameSite=Lax", "HttpOnly", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	wantLang(t, "home after the switch", b.get("/"), "fr", "Vous n’êtes pas connecté.")
	wantLang(t, "unknown ?lang ignored", b.get("/?lang=xx"), "fr")
	// BCP 47 tags in any case, with a region, as Accept-Language takes them.
	wantLang(t, "?lang=DE", b.get("/?lang=DE"), "de")
	wantLang(t, "?lang=es-MX", b.get("/?lang=es-MX"), "es")
	wantLang(t, "the cookie the last one set", b.get("/"), "es")
	wantLang(t, "?lang=fr", b.get("/?lang=fr"), "fr")
	wantLang(t, "a sign-out request's problem", b.get("/logout?state=a&state=b"), "fr", "Un paramètre de la demande de déconnexion est répété.")

	c := newAZClient(t, srv, "https://app.example.com/cb")
	q := azQuery(c, newAZPKCE(), "s", "ui_locales", "es")
	loc := b.get("/oauth/authorize?" + q.Encode()).Header.Get("Location")
	login := b.get(loc)
	wantLang(t, "ui_locales over the cookie", login, "es", "Iniciar sesión")
	_, req := azFormFields(t, login)
	if !strings.Contains(string(login.Body), `href="/login?lang=ja&amp;req=`+url.QueryEscape(req)+`"`) {
		t.Errorf("the switcher's links lose the request:\n%s", login.Body)
	}
	// Choosing a language on the request's page wins from then on.
	wantLang(t, "switched during the request", b.get("/login?lang=ja&req="+url.QueryEscape(req)), "ja", "サインイン")
	wantLang(t, "the same request afterwards", b.get("/login?req="+url.QueryEscape(req)), "ja")
}

// TestLanguages_DefaultLocale: GATEHOUSE_DEFAULT_LOCALE is the language when nothing
// else chooses; a value outside en, de, fr, es, ja stops start-up (exit 2) naming
// the variable.
func TestLanguages_DefaultLocale(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{Env: map[string]string{"GATEHOUSE_DEFAULT_LOCALE": "es"}})
	b := newAZBrowser(t, srv)
	wantLang(t, "no preference", b.get("/"), "es", "No has iniciado sesión.")
	wantLang(t, "unsupported preference", langBrowser(t, srv, "zh-TW").get("/login"), "es", "Iniciar sesión")
	wantLang(t, "supported preference", langBrowser(t, srv, "en-GB").get("/login"), "en", "Sign in")

	// Discovery names the page languages (OpenID Connect Discovery 1.0 §3).
	disc := srv.Get(t, srv.HTTPClient(), "/.well-known/openid-configuration").JSON(t)
	if got := fmt.Sprint(disc["ui_locales_supported"]); got != "[en de fr es ja]" {
		t.Errorf("ui_locales_supported %s", got)
	}

	for _, bad := range []string{"pt", "EN", "de-DE"} {
		out, errOut, code := runCLI(t, cliEnv(t, map[string]string{"GATEHOUSE_DEFAULT_LOCALE": bad}), "", "serve")
		wantUsage(t, "GATEHOUSE_DEFAULT_LOCALE="+bad, out, errOut, code, "GATEHOUSE_DEFAULT_LOCALE", "en, de, fr, es, ja")
	}
}

// TestLanguages_MailInUsersLocale: a user whose locale claim is German gets the
// password reset mail in German over a real SMTP server, link lifetime included,
// even asked from a French page; a user without a locale gets it in the page's
// language (French), or English without one; a sign-up's verification mail is in
// the sign-up page's language.
func TestLanguages_MailInUsersLocale(t *testing.T) {
	t.Parallel()
	srv, mx := mailServer(t, nil)
	people := []struct{ name, email, locale string }{
		{uniqueName("greta"), "greta@example.com", "de-AT"},
		{uniqueName("ella"), "ella@example.com", ""},
	}
	for _, u := range people {
		srv.CreateUser(t, u.name, "correct horse battery")
		args := []string{"users", "update", u.name, "--email", u.email}
		if u.locale != "" {
			args = append(args, "--locale", u.locale)
		}
		if _, errOut, code := srv.CLI(t, "", args...); code != 0 {
			t.Fatalf("users update: %d %s", code, errOut)
		}
	}
	// From a French page: the user's locale claim wins over the page's language.
	b := langBrowser(t, srv, "fr-FR")
	csrf, _ := b.openForm("/forgot-password")
	b.post("/forgot-password", url.Values{"csrf_token": {csrf}, "email": {"greta@example.com"}})
	m := mailTo(t, mx, 1, "greta@example.com")
	if m.Subject != "Setzen Sie Ihr Passwort zurück" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"Hallo greta", "innerhalb von 30 Minuten", "Ihr Passwort bleibt unverändert.", "— Gatehouse"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the German mail lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, "Neues Passwort wählen</a>") || !strings.Contains(m.HTML, "Oder öffnen Sie diese Adresse: ") {
		t.Errorf("the German mail's HTML part:\n%s", m.HTML)
	}
	linkIn(t, srv, m)

	// A user without a locale: the language of the page that sent the mail.
	csrf, _ = b.openForm("/forgot-password")
	b.post("/forgot-password", url.Values{"csrf_token": {csrf}, "email": {"ella@example.com"}})
	m = mailTo(t, mx, 2, "ella@example.com")
	if m.Subject != "Réinitialisez votre mot de passe" || !strings.Contains(m.Text, "Bonjour ella") ||
		!strings.Contains(m.Text, "dans les 30 minutes") {
		t.Errorf("the French mail: %q\n%s", m.Subject, m.Text)
	}
	// ... and without a page language either: the default, English.
	plain := newAZBrowser(t, srv)
	csrf, _ = plain.openForm("/forgot-password")
	plain.post("/forgot-password", url.Values{"csrf_token": {csrf}, "email": {"ella@example.com"}})
	m = mailTo(t, mx, 3, "ella@example.com")
	if m.Subject != "Reset your password" || !strings.Contains(m.Text, "within 30 minutes") {
		t.Errorf("the English mail: %q\n%s", m.Subject, m.Text)
	}

	// A sign-up from a Spanish page: its verification mail in Spanish.
	es := langBrowser(t, srv, "es")
	csrf, _ = es.openForm("/register")
	if r := es.post("/register", url.Values{"csrf_token": {csrf}, "username": {uniqueName("lucia")}, "email": {"lucia@example.com"},
		"password": {"correct horse battery"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d\n%s", r.Status, r.Body)
	}
	m = mailTo(t, mx, 4, "lucia@example.com")
	if m.Subject != "Verifica tu dirección de correo electrónico" || !strings.Contains(m.Text, "en un plazo de 30 minutos") {
		t.Errorf("the Spanish mail: %q\n%s", m.Subject, m.Text)
	}

	// A locale claim without a catalog (pt-BR): the page's language, not the default.
	pedro := uniqueName("pedro")
	srv.CreateUser(t, pedro, "correct horse battery")
	if _, errOut, code := srv.CLI(t, "", "users", "update", pedro, "--email", "pedro@example.com", "--locale", "pt-BR"); code != 0 {
		t.Fatalf("users update: %d %s", code, errOut)
	}
	ja := langBrowser(t, srv, "ja")
	csrf, _ = ja.openForm("/forgot-password")
	ja.post("/forgot-password", url.Values{"csrf_token": {csrf}, "email": {"pedro@example.com"}})
	if m = mailTo(t, mx, 5, "pedro@example.com"); m.Subject != "パスワードの再設定" {
		t.Errorf("the mail of a pt-BR user asked from a Japanese page: %q\n%s", m.Subject, m.Text)
	}

	// Ella, without a locale, changes her address from a French page: both the
	// link to the new address and the notice to the old one are in French.
	fr := langBrowser(t, srv, "fr")
	if r := fr.logIn("/login", people[1].name, "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("ella's sign-in: %d\n%s", r.Status, r.Body)
	}
	if r := changeEmail(t, fr, "correct horse battery", "ella.new@example.com"); r.Status != http.StatusOK {
		t.Fatalf("email change: %d\n%s", r.Status, r.Body)
	}
	m = mailTo(t, mx, 6, "ella.new@example.com")
	if m.Subject != "Confirmez votre nouvelle adresse e-mail" {
		t.Errorf("the link to the new address: %q\n%s", m.Subject, m.Text)
	}
	submitLinkForm(t, fr, linkIn(t, srv, m), "/confirm-email", nil)
	if m = mailTo(t, mx, 7, "ella@example.com"); m.Subject != "Votre adresse e-mail a été modifiée" {
		t.Errorf("the notice to the old address: %q\n%s", m.Subject, m.Text)
	}
}

// TestLanguages_AccountPageAndMail: the account page, a use case's message on it and
// a registration form error are in the page's language; adding an authenticator app
// mails a user whose locale is ja in Japanese.
func TestLanguages_AccountPageAndMail(t *testing.T) {
	t.Parallel()
	srv, mx := mailServer(t, nil)
	user := uniqueName("haruki")
	srv.CreateUser(t, user, "correct horse battery")
	if _, errOut, code := srv.CLI(t, "", "users", "update", user, "--email", "haruki@example.com", "--locale", "ja"); code != 0 {
		t.Fatalf("users update: %d %s", code, errOut)
	}
	b := langBrowser(t, srv, "de")
	if r := b.logIn("/login", user, "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d\n%s", r.Status, r.Body)
	}
	account := b.get("/account")
	wantLang(t, "account page", account, "de", "Ihr Konto · Gatehouse", "Wo Sie angemeldet sind", "dieser Browser",
		"Authenticator-App einrichten", "Profil speichern", " UTC")
	csrf, _ := azFormFields(t, account)
	wrong := b.post("/account/password", url.Values{"csrf_token": {csrf}, "username": {user},
		"current_password": {"not my password"}, "new_password": {"another good password"}})
	wantLang(t, "wrong current password", wrong, "de", "Das ist nicht Ihr aktuelles Passwort.")
	badPhone := b.post("/account/profile", url.Values{"csrf_token": {csrf}, "phone_number": {"12345"}, "name": {strings.Repeat("x", 201)}})
	// Both bad fields are marked at once, each with its own message.
	wantLang(t, "two profile form errors", badPhone, "de", `id="name-error">Verwenden Sie höchstens 200 Zeichen.`,
		`id="phone_number-error">`, "und Ländervorwahl ein: 4 bis 15 Ziffern")
	badPhone = b.post("/account/profile", url.Values{"csrf_token": {csrf}, "phone_number": {"12345"}})
	wantLang(t, "a phone number error", badPhone, "de", "und Ländervorwahl ein: 4 bis 15 Ziffern")

	// The same browser switches to Japanese: the authenticator app's setup and the mail.
	b.get("/account?lang=ja")
	enrolTOTPIn(t, b, "correct horse battery", "認証アプリを設定", "リカバリーコードを保存してください")
	m := mailTo(t, mx, 1, "haruki@example.com")
	if m.Subject != "アカウントに認証アプリが追加されました" || !strings.Contains(m.Text, user+" さん") ||
		!strings.Contains(m.Text, "アカウント "+user+" の 2 段階目の認証として認証アプリが設定されました。") {
		t.Errorf("the Japanese mail: %q\n%s", m.Subject, m.Text)
	}

	// A registration form error from the use case, in Spanish.
	es := langBrowser(t, srv, "es-MX")
	csrf, _ = es.openForm("/register")
	r := es.post("/register", url.Values{"csrf_token": {csrf}, "username": {uniqueName("ana")}, "email": {"ana@example.com"}, "password": {"short"}})
	wantLang(t, "registration error", r, "es", "La contraseña debe tener de 8 a 128 caracteres.")
	// A message that quotes what was typed is said without the quote, translated.
	de := langBrowser(t, srv, "de")
	csrf, _ = de.openForm("/register")
	r = de.post("/register", url.Values{"csrf_token": {csrf}, "username": {uniqueName("jonas")}, "email": {"not an address"},
		"password": {"a long password 1"}})
	wantLang(t, "registration with a bad email", r, "de", "Das ist keine gültige E-Mail-Adresse.")
}

// enrolTOTPIn sets up the authenticator app from /account, the pages showing the
// texts setup and saved.
func enrolTOTPIn(t *testing.T, b *azBrowser, password, setup, saved string) {
	t.Helper()
	csrf, _ := b.openForm("/account")
	page := b.post("/account/totp", url.Values{"csrf_token": {csrf}, "current_password": {password}})
	wantPageText(t, page, http.StatusOK, setup)
	body := string(page.Body)
	m := totpSecretRE.FindStringSubmatch(body)
	tok := tokenFieldRE.FindStringSubmatch(body)
	if m == nil || tok == nil {
		t.Fatalf("the setup page lacks the secret\n%s", body)
	}
	b.srv.Sensitive(m[1])
	csrf, _ = azFormFields(t, page)
	done := b.post("/account/totp/confirm", url.Values{"csrf_token": {csrf}, "token": {tok[1]}, "otp": {totpCode(t, m[1], 0)}})
	wantPageText(t, done, http.StatusOK, saved)
}
