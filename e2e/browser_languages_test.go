package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// TestBrowser_Languages: in Chromium, an authorization request with ui_locales=de
// (then ja) shows its login and consent pages in German (Japanese), <html lang>
// included, and the flow ends at the client with a code. Screenshots
// login-de, consent-de, login-ja, consent-ja.
func TestBrowser_Languages(t *testing.T) {
	t.Parallel()
	browser := newChromium(t)
	shots := screenshotDir(t)
	srv := startServer(t, Options{})
	cb := newCallback(t)
	password := "correct horse battery staple"
	srv.Sensitive(password)
	client := srv.CreateClientJSON(t, "--name", "Acme Dashboard", "--redirect-uri", "http://127.0.0.1/callback")
	conf := &oauth2.Config{
		ClientID: client.ClientID, ClientSecret: client.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token"},
		RedirectURL: cb.srv.URL + "/callback",
		Scopes:      []string{"openid", "profile", "email", "offline_access"},
	}
	for _, tc := range []struct {
		lang, user, signIn, allow string
		consent                   []string
	}{
		{"de", "ada", "Anmelden", "Erlauben", []string{"Zugriff erlauben?", "Acme Dashboard", "Ihre E-Mail-Adresse sehen", "Angemeldet als ada."}},
		{"ja", "kenji", "サインイン", "許可", []string{"アクセスを許可しますか？", "Acme Dashboard", "メールアドレスの参照", "kenji としてサインインしています。"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			srv.CreateUser(t, tc.user, password)
			tab := newTab(t, browser, 800, 760)
			state := randomToken()
			back := cb.expect(state)
			verifier := oauth2.GenerateVerifier()
			u := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("ui_locales", tc.lang))
			run(t, tab, "open the authorization URL", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(`#username`)))
			attr, _ := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS(`html`), "lang"))
			lang := attr.Value
			title, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#page-title`)))
			if lang != tc.lang || title != tc.signIn {
				t.Errorf("login page: lang %q, title %q; want %q, %q", lang, title, tc.lang, tc.signIn)
			}
			screenshot(t, tab, shots, "login-"+tc.lang)
			run(t, tab, "fill the login form",
				chromedp.SendKeys(chromedp.CSS(`#username`), tc.user),
				chromedp.SendKeys(chromedp.CSS(`#password`), password),
				chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
			text, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.card`)))
			for _, want := range tc.consent {
				if !strings.Contains(text, want) {
					t.Errorf("the consent page lacks %q:\n%s", want, text)
				}
			}
			if allow, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`button[value="allow"]`))); allow != tc.allow {
				t.Errorf("allow button %q, want %q", allow, tc.allow)
			}
			if attr, _ := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS(`html`), "lang")); attr.Value != tc.lang {
				t.Errorf("consent page: lang %q", attr.Value)
			}
			screenshot(t, tab, shots, "consent-"+tc.lang)
			run(t, tab, "allow", chromedp.Click(chromedp.CSS(`button[value="allow"]`)))
			if q := waitCallback(t, back); q.Get("code") == "" {
				t.Errorf("callback %v: no code", q)
			}
		})
	}
}
