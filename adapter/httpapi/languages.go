package httpapi

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Languages is what the pages need of the message catalogs (adapter/i18n, wired in
// cmd): the language of a request among the supported ones, and a message's text in
// it.
type Languages interface {
	// Match picks a supported language from preferences in order of precedence:
	// ui_locales, the switcher's cookie, Accept-Language; else the default.
	Match(preferences ...string) string
	// Text is a message in a language, its {{.Name}} placeholders filled from args.
	Text(locale, key string, args map[string]string) string
}

// languageNames are the page footer's language switcher, each in its own language.
var languageNames = []struct{ Code, Name string }{
	{"en", "English"}, {"de", "Deutsch"}, {"fr", "Français"}, {"es", "Español"}, {"ja", "日本語"},
}

const (
	// langCookie remembers the language switcher's choice for a year.
	langCookie = "gatehouse_lang"
	// requestLangCookie remembers an authorization request's ui_locales choice for
	// that request's pages: "<request id> <language>".
	requestLangCookie = "gatehouse_request_lang"
	langKey           = "gatehouse.lang"
	formRequestIDKey  = "gatehouse.form_req"
	// langTargetKey, when a handler sets it to a path with its query, is where the
	// language links lead, for a page a GET of its own address cannot show again:
	// what a mailed link's form showed after its POST (the link is used, or its token
	// is in the form), an upstream sign-in's failure (its callback works once).
	langTargetKey = "gatehouse.lang_target"
)

// supportedLanguages are the codes of the languages the pages speak.
func supportedLanguages() []string {
	out := make([]string, len(languageNames))
	for i, l := range languageNames {
		out[i] = l.Code
	}
	return out
}

// lang is the language of the request's page: a switcher choice made on this very
// request (?lang=), then the pending authorization request's ui_locales, then the
// switcher's cookie, then Accept-Language, then GATEHOUSE_DEFAULT_LOCALE.
func (p *Pages) lang(c echo.Context) string {
	if l, ok := c.Get(langKey).(string); ok {
		return l
	}
	l := p.chooseLang(c)
	c.Set(langKey, l)
	return l
}

func (p *Pages) chooseLang(c echo.Context) string {
	req := c.Request()
	if q, ok := p.matchedLanguage(req.URL.Query().Get("lang")); ok && req.Method == http.MethodGet {
		c.SetCookie(&http.Cookie{Name: langCookie, Value: q, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
			HttpOnly: true, Secure: p.cookies.secure, SameSite: http.SameSiteLaxMode})
		// An explicit choice outranks the request's ui_locales from now on.
		if _, err := req.Cookie(requestLangCookie); err == nil {
			c.SetCookie(&http.Cookie{Name: requestLangCookie, Value: "", Path: "/", MaxAge: -1,
				HttpOnly: true, Secure: p.cookies.secure, SameSite: http.SameSiteLaxMode})
		}
		return q
	}
	var uiLocales, cookie string
	if ck, err := req.Cookie(requestLangCookie); err == nil {
		if id, l, ok := strings.Cut(ck.Value, " "); ok && id != "" && id == requestIDOf(c) {
			uiLocales = l
		}
	}
	if ck, err := req.Cookie(langCookie); err == nil {
		cookie = ck.Value
	}
	return p.languages.Match(uiLocales, cookie, req.Header.Get("Accept-Language"))
}

// requestIDOf is the pending authorization request a page is about: its req
// parameter, in the query or (after the handler read it) the form.
func requestIDOf(c echo.Context) string {
	if id := c.QueryParam("req"); id != "" {
		return id
	}
	id, _ := c.Get(formRequestIDKey).(string)
	return id
}

// useUILocales makes the first supported language of an authorization request's
// ui_locales (OpenID Connect Core §3.1.2.1) the language of this response, and
// returns it; "" when none is supported (the other preferences decide).
func (p *Pages) useUILocales(c echo.Context, uiLocales string) string {
	if uiLocales == "" {
		return ""
	}
	l, ok := p.matchedLanguage(uiLocales)
	if !ok {
		return ""
	}
	c.Set(langKey, l)
	return l
}

// matchedLanguage is the supported language of the first tag of prefs (BCP 47 tags,
// space-separated) that names one, in any case and with any region (DE, de-AT);
// false when none does.
func (p *Pages) matchedLanguage(prefs string) (string, bool) {
	if prefs == "" {
		return "", false
	}
	l := p.languages.Match(prefs)
	for _, f := range strings.Fields(strings.ToLower(prefs)) {
		if f == l || strings.HasPrefix(f, l+"-") {
			return l, true
		}
	}
	return "", false
}

// rememberUILocales keeps the ui_locales language for the pages of the pending
// request requestID, in a cookie for an hour.
func (p *Pages) rememberUILocales(c echo.Context, requestID, lang string) {
	if lang == "" || requestID == "" {
		return
	}
	c.SetCookie(&http.Cookie{Name: requestLangCookie, Value: requestID + " " + lang, Path: "/", MaxAge: 3600,
		HttpOnly: true, Secure: p.cookies.secure, SameSite: http.SameSiteLaxMode})
}

// t is a message in the request's language; args are name, value pairs.
func (p *Pages) t(c echo.Context, key string, args ...string) string {
	return p.languages.Text(p.lang(c), key, pairs(args))
}

func pairs(args []string) map[string]string {
	if len(args) < 2 {
		return nil
	}
	m := make(map[string]string, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		m[args[i]] = args[i+1]
	}
	return m
}

// langLink is one language of the page footer's switcher.
type langLink struct {
	Code, Name, Href string
	Current          bool
}

// templateFuncs are the pages' functions in a language: t (a message), th (a
// message whose arguments are markup made by tag), tag, lang (the page's language)
// and langLinks (the footer's switcher, from the view).
func (p *Pages) templateFuncs(lang string) template.FuncMap {
	text := func(key string, args map[string]string) string {
		return p.languages.Text(lang, key, args)
	}
	return template.FuncMap{
		"lang": func() string { return lang },
		"t": func(key string, args ...any) string {
			m := map[string]string{}
			for i := 0; i+1 < len(args); i += 2 {
				m[fmt.Sprint(args[i])] = fmt.Sprint(args[i+1])
			}
			return text(key, m)
		},
		"th": func(key string, args ...any) template.HTML {
			// Markup arguments stand in as private-use marks while the message is
			// escaped, then take their place.
			m := map[string]string{}
			var marks []string
			for i := 0; i+1 < len(args); i += 2 {
				name := fmt.Sprint(args[i])
				if h, ok := args[i+1].(template.HTML); ok {
					mark := "\ue000" + strconv.Itoa(len(marks)) + "\ue001"
					marks = append(marks, mark, string(h))
					m[name] = mark
					continue
				}
				m[name] = fmt.Sprint(args[i+1])
			}
			s := template.HTMLEscapeString(text(key, m))
			return template.HTML(strings.NewReplacer(marks...).Replace(s)) //nolint:gosec // escaped above; marks are tag's escaped markup
		},
		"tag": func(name, class string, v any) template.HTML {
			open := "<" + name
			if class != "" {
				open += ` class="` + template.HTMLEscapeString(class) + `"`
			}
			return template.HTML(open + ">" + template.HTMLEscapeString(fmt.Sprint(v)) + "</" + name + ">") //nolint:gosec // escaped
		},
		"langLinks": func(v any) []langLink {
			switch v := v.(type) {
			case view:
				return v.Langs
			case deviceView:
				return v.Langs
			case *consoleView:
				return v.Langs
			}
			return nil
		},
	}
}

// pageTemplates parses the pages with the layout in a language, for a templateSet;
// check runs each page once on an empty view of its kind (theme.tryExecute).
func (p *Pages) pageTemplates() *templateSet {
	return p.newTemplateSet(func(lang, name string) (*template.Template, error) {
		t, err := p.theme.parse(name, p.templateFuncs(lang), "layout.html", name+".html")
		if err != nil {
			return nil, templateErr("pages", name, err)
		}
		return t, nil
	})
}

// newTemplateSet makes a set of pages that LoadTemplates loads.
func (p *Pages) newTemplateSet(parse func(lang, name string) (*template.Template, error)) *templateSet {
	s := newTemplateSet(parse)
	p.sets = append(p.sets, s)
	return s
}

// addPage adds the page name to set, checked on empty, a view of its kind.
func (p *Pages) addPage(set *templateSet, name string, empty any) {
	set.add(name, p.languages.Match(), func(t *template.Template) error {
		return p.theme.tryExecute(t, empty, "layout.html", name+".html")
	})
}

// LoadTemplates parses every page of the pages, the device pages and the console in
// the default language and runs each once on an empty view: a broken template
// (GATEHOUSE_TEMPLATES_DIR) is a *TemplateError. serve calls it before it listens,
// and it then logs which files of GATEHOUSE_TEMPLATES_DIR replace embedded ones; the
// pages of the other languages are parsed on their first use.
func (p *Pages) LoadTemplates() error {
	for _, s := range p.sets {
		if err := s.load(); err != nil {
			return err
		}
	}
	p.theme.logOverrides(p.log)
	return nil
}

// langLinks point at the current page with lang set; a page shown after a POST
// links to its GET form with the pending request kept.
func langLinks(c echo.Context, current string) []langLink {
	req := c.Request()
	q := url.Values{}
	if req.Method == http.MethodGet {
		q = req.URL.Query()
	} else if id := requestIDOf(c); id != "" {
		q.Set("req", id)
	}
	path := req.URL.Path
	if req.Method == http.MethodGet {
		// A callback's query (a code and its state) works once: the page it showed is
		// switched to another language where it leads back to, not asked again (an
		// upstream's failure page names where exactly: langTargetKey).
		switch {
		case strings.HasPrefix(path, "/login/upstream/") && strings.HasSuffix(path, "/callback"):
			path, q = "/login", url.Values{}
		case path == "/admin/callback":
			path, q = "/admin", url.Values{}
		}
	}
	if req.Method != http.MethodGet {
		switch {
		case strings.HasPrefix(path, "/account"):
			path = "/account"
		case path == "/login/passkey":
			path = "/login"
		case path == "/verify-email/resend":
			path = "/verify-email"
		}
	}
	if target, _ := c.Get(langTargetKey).(string); target != "" {
		if u, err := url.Parse(target); err == nil {
			path, q = u.Path, u.Query()
		}
	}
	out := make([]langLink, 0, len(languageNames))
	for _, l := range languageNames {
		q.Set("lang", l.Code)
		out = append(out, langLink{Code: l.Code, Name: l.Name, Href: path + "?" + q.Encode(), Current: l.Code == current})
	}
	return out
}

// execute renders a page into a buffer first, so that a template failure never
// sends half a page.
func (p *Pages) execute(t *template.Template, v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// describeScopes puts each scope's words in the page's language: an operator's
// description (gatehouse scopes) in that language, or in English when it has none
// there; else a well-known scope's own words; else nothing, and the page shows the
// scope's name alone.
func (p *Pages) describeScopes(c echo.Context, scopes []usecase.ScopeView) []usecase.ScopeView {
	return p.describeScopeLists(c, scopes)[0]
}

// describeScopeLists describes several lists (the account page's connected apps)
// with one read of the operator's descriptions.
func (p *Pages) describeScopeLists(c echo.Context, lists ...[]usecase.ScopeView) [][]usecase.ScopeView {
	var names []string
	for _, scopes := range lists {
		for _, s := range scopes {
			names = append(names, s.Name)
		}
	}
	described, err := p.scopes.Described(c.Request().Context(), names)
	if err != nil {
		// The page still answers, with the built-in words.
		p.log.WarnContext(c.Request().Context(), "scope descriptions not read", "err", err)
	}
	lang := p.lang(c)
	out := make([][]usecase.ScopeView, len(lists))
	for l, scopes := range lists {
		out[l] = make([]usecase.ScopeView, len(scopes))
		for i, s := range scopes {
			out[l][i] = s
			if d, ok := described[s.Name]; ok {
				out[l][i].Description = d.DescriptionIn(lang)
			} else if _, ok := domain.ScopeDescriptions[s.Name]; ok {
				out[l][i].Description = p.t(c, "scope."+s.Name)
			} else {
				out[l][i].Description = ""
			}
		}
	}
	return out
}

// uiLocalesOf is the ui_locales parameter of an authorization request.
func uiLocalesOf(encoded string) string {
	q, err := url.ParseQuery(encoded)
	if err != nil {
		return ""
	}
	return q.Get("ui_locales")
}

// date is a moment for a page, in UTC, in the page's language's usual form.
func (p *Pages) date(c echo.Context, t time.Time) string {
	return t.UTC().Format(p.t(c, "format.datetime"))
}

// withPeriod ends a use case's reason with a period, as the end of a sentence.
func withPeriod(s string) string {
	if s != "" && !strings.HasSuffix(s, ".") {
		return s + "."
	}
	return s
}

// useCaseMessages are the catalog keys of the use cases' messages a page shows
// (ValidationError and error descriptions, in English): the adapter translates them;
// a message not here is shown as it is.
var useCaseMessages = map[string]string{
	"enter the email address of your account":     "uc.enter_account_email",
	"the two passwords differ":                    "uc.passwords_differ",
	"enter the new email address":                 "uc.enter_new_email",
	"that is already your email address":          "uc.already_your_email",
	"that is not your current password":           "uc.not_current_password",
	"that username is already taken":              "uc.username_taken",
	"that username is too like one already taken": "uc.username_similar",
	"username reads as a name in Latin letters: use letters that do not look like Latin ones":                 "uc.username_reads_latin",
	"username may not have the form of a user id (8-4-4-4-12 hexadecimal digits)":                             "uc.username_looks_like_id",
	"that email address belongs to another user":                                                              "uc.email_other_user",
	"you signed in more than 5 minutes ago: enter your password to continue":                                  "uc.fresh_needed",
	"you signed in more than 5 minutes ago: sign out and in again to set a password":                          "uc.fresh_set_password",
	"you signed in more than 5 minutes ago: sign out and in again to link another account":                    "uc.fresh_link",
	"this browser signed in without your second factor: sign out and in again with it to change your factors": "uc.factor_needed",
	"you already use an authenticator app: remove it first to set up another":                                 "uc.totp_exists",
	"this setup has expired: start again":                                                                     "uc.setup_expired",
	"that code is not right: enter the 6 digits your app shows now":                                           "uc.otp_wrong",
	"the name must be at most 64 characters, on one line":                                                     "uc.passkey_name",
	"your browser gave no passkey: try again, in a browser with JavaScript on":                                "uc.no_passkey",
	"passkeys are not available on this server":                                                               "uc.passkeys_unavailable",
	"this passkey request expired or was already used: try again":                                             "uc.passkey_expired",
	"your browser's passkey could not be verified: try again":                                                 "uc.passkey_unverified",
	"this passkey is registered already":                                                                      "uc.passkey_registered",
	"username must be 1 to 64 characters":                                                                     "uc.username_length",
	"username may contain only letters, digits and . _ - @ +":                                                 "uc.username_chars",
	"password must be valid text":                                                                             "uc.password_text",
	"password must be 8 to 128 characters":                                                                    "uc.password_length",
	"password must not be the username":                                                                       "uc.password_username",
	"this sign-in request was started in another browser, or this browser does not keep our cookies":          "uc.other_browser",
	"a parameter of the sign-out request is repeated":                                                         "uc.logout.repeated",
	"the request names no application of this server":                                                         "uc.logout.no_application",
	"the application's sign-out request could not be verified":                                                "uc.logout.unverified",
	"the client_id does not match the id_token_hint":                                                          "uc.logout.client_mismatch",
	"the request does not say which application sent it":                                                      "uc.logout.no_sender",
	"the application is unknown":                                                                              "uc.logout.unknown_application",
	"the post_logout_redirect_uri is not registered for this application":                                     "uc.logout.unregistered_uri",
	"this browser does not keep cookies; allow them and try again":                                            "uc.up.cookies",
	"this sign-in expired, was already used, or was started in another browser; try again":                    "uc.up.expired",
	"you are no longer signed in as the account that asked to link it":                                        "uc.up.link_other_account",
	// Why an upstream sign-in failed (usecase.Upstreams, adapter/upstream): "it" is
	// the upstream provider.
	"it sent no authorization code":                                         "uc.up.no_code",
	"its answer names another issuer":                                       "uc.up.wrong_issuer",
	"its client secret cannot be read with this server's key; set it again": "uc.up.secret_unreadable",
	"it named no valid subject":                                             "uc.up.no_subject",
	"it sent no ID token":                                                   "uc.up.no_id_token",
	"its ID token did not verify (it has expired)":                          "uc.up.id_token_expired",
	"its ID token did not verify (wrong issuer)":                            "uc.up.id_token_issuer",
	"its ID token did not verify (wrong audience)":                          "uc.up.id_token_audience",
	"its ID token did not verify (bad signature)":                           "uc.up.id_token_signature",
	"its ID token did not verify (the nonce is not the one sent)":           "uc.up.id_token_nonce",
	"its ID token did not verify (at_hash does not match the access token)": "uc.up.id_token_at_hash",
	"its ID token's claims could not be read":                               "uc.up.id_token_claims",
	"its token endpoint did not answer in time":                             "uc.up.token_timeout",
	"its token endpoint could not be reached or gave no access token":       "uc.up.token_unreachable",
	"its API gave a user without an id":                                     "uc.up.api_no_id",
	"its discovery document names no jwks_uri":                              "uc.up.discovery_jwks",
	"its discovery document could not be read":                              "uc.up.discovery",
}

// useCasePatterns are the use cases' messages that quote what the user typed: the
// page says them without the quote, in its language.
var useCasePatterns = []struct {
	re  *regexp.Regexp
	key string
	arg string // the placeholder the first group fills, if any
}{
	{regexp.MustCompile(`^email ".*" is not a valid address$`), "uc.email_invalid", ""},
	{regexp.MustCompile(`^that (.+) account is already linked to another account here$`), "uc.up.already_linked", "Name"},
	{regexp.MustCompile(`^it answered (.+)$`), "uc.up.answered", "Code"},
	{regexp.MustCompile(`^its ID token did not verify \((.+)\)$`), "uc.up.id_token_other", "Detail"},
	{regexp.MustCompile(`^its token endpoint refused the code \((.+)\)$`), "uc.up.token_refused", "Code"},
	{regexp.MustCompile(`^its token endpoint answered HTTP (\d+)$`), "uc.up.token_http", "Status"},
	{regexp.MustCompile(`^its API did not give the user \((.+)\)$`), "uc.up.api_user", "Detail"},
	{regexp.MustCompile(`^its discovery document at (.+) could not be read or does not match the issuer$`), "uc.up.discovery_url", "URL"},
	{regexp.MustCompile(`^its type "(.+)" is unknown$`), "uc.up.unknown_type", "Type"},
}

// profileField matches a profile form's message: the field's words, then what is
// wrong (domain.ValidateProfile); the page shows it next to the field, so only the
// reason is said.
var profileField = regexp.MustCompile(`^(?:name|given name|family name|picture|locale|zoneinfo|phone number): (.+)$`)

// profileReasons are those reasons' keys; a number in them (a length) is the
// message's Max.
var profileReasons = []struct {
	re  *regexp.Regexp
	key string
}{
	{regexp.MustCompile(`^must be text of at most (\d+) characters$`), "uc.profile.text_length"},
	{regexp.MustCompile(`^must not contain control or invisible characters$`), "uc.profile.invisible"},
	{regexp.MustCompile(`^must not start or end with a space$`), "uc.profile.spaces"},
	{regexp.MustCompile(`^must be at most (\d+) characters$`), "uc.profile.max_length"},
	{regexp.MustCompile(`^must be an http or https URL`), "uc.profile.picture_url"},
	{regexp.MustCompile(`^must not contain spaces or control characters$`), "uc.profile.url_chars"},
	{regexp.MustCompile(`^must be a language tag`), "uc.profile.locale"},
	{regexp.MustCompile(`^must be an IANA time zone`), "uc.profile.zoneinfo"},
	{regexp.MustCompile(`^must be in E\.164 form`), "uc.profile.phone"},
}

// clientProblems are the catalog keys of the client rules' refusals (domain.FieldError,
// by its Problem, a format) for the console's client form. A redirect URI's are keyed
// by what follows the address ("redirect URI %q must be absolute": " must be
// absolute"); the form names the field, the message the address.
var clientProblems = map[string]string{
	" must be 1 to 2000 characters":                                   "console.field.uri_length",
	" must not contain a fragment, wildcard, backslash or whitespace": "console.field.uri_chars",
	" is not a valid URI":                                             "console.field.uri_invalid",
	" must be absolute":                                               "console.field.uri_absolute",
	" uses a forbidden scheme":                                        "console.field.uri_scheme_forbidden",
	" has no host":                                                    "console.field.uri_no_host",
	": plain http is allowed only on loopback; use https":             "console.field.uri_http",
	": the port must be 1 to 65535 without leading zeros (no colon for none)":   "console.field.uri_port",
	": a custom scheme must be reverse-domain (com.example.app)":                "console.field.uri_custom_scheme",
	" must not contain user information":                                        "console.field.uri_userinfo",
	": the scheme must be lower case":                                           "console.field.uri_scheme_case",
	"client name must be 1 to 200 characters":                                   "console.field.name_length",
	"unknown grant type %q; use one of %s":                                      "console.field.grant_unknown",
	"a client needs at least one grant type":                                    "console.field.grant_none",
	"a public client cannot use client_credentials":                             "console.field.public_client_credentials",
	"a public client cannot use token exchange":                                 "console.field.public_token_exchange",
	"the authorization_code grant needs at least one redirect URI":              "console.field.code_needs_redirect",
	"scope %q is not a valid scope token":                                       "console.field.scope_invalid",
	"a client may have at most %d scopes, %d bytes together":                    "console.field.scope_too_many",
	"audience %q must be an absolute URI without fragment":                      "console.field.audience_invalid",
	"{backchannel_logout_uri} %q must be an absolute http or https URL":         "console.field.backchannel_url",
	"{backchannel_logout_uri} %q must have no fragment and no user information": "console.field.backchannel_fragment",
	"{id_token_signed_response_alg} %q is not one of RS256, ES256, EdDSA":       "console.field.id_token_alg",
	"a public client cannot use the password grant (RFC 9700 §2.4); use the authorization code flow with PKCE, or the device flow": "console.field.public_password",
	"{require_pkce} false is only for a confidential client; a public client must use PKCE (RFC 9700 §2.1.1)":                      "console.field.pkce_public",
}

// sayFieldProblem is a client rule's refusal in the page's language: its address,
// name or number as Value (the first argument), Max and Bytes (the first two).
// Falls back to the English text for a refusal the catalogs do not know.
func (p *Pages) sayFieldProblem(c echo.Context, fe *domain.FieldError) string {
	problem := fe.Problem
	for _, what := range []string{"post-logout redirect URI", "redirect URI"} {
		if rest, ok := strings.CutPrefix(problem, what); ok {
			problem = strings.TrimPrefix(rest, " %q")
			break
		}
	}
	key, ok := clientProblems[problem]
	if !ok {
		return sentence(fe.Text(func(f string) string { return strings.ReplaceAll(f, "_", " ") }))
	}
	var args []string
	if len(fe.Args) > 0 {
		args = append(args, "Value", fmt.Sprint(fe.Args[0]), "Max", fmt.Sprint(fe.Args[0]))
	}
	if len(fe.Args) > 1 {
		args = append(args, "Bytes", fmt.Sprint(fe.Args[1]))
	}
	return p.t(c, key, args...)
}

// say is a use case's message as a sentence in the page's language.
func (p *Pages) say(c echo.Context, msg string) string {
	if s, ok := p.sayKnown(c, msg); ok {
		return s
	}
	return sentence(msg)
}

// sayKnown is say for the messages the catalogs know; false for any other.
func (p *Pages) sayKnown(c echo.Context, msg string) (string, bool) {
	if key, ok := useCaseMessages[msg]; ok {
		return p.t(c, key), true
	}
	for _, m := range useCasePatterns {
		if g := m.re.FindStringSubmatch(msg); g != nil {
			if m.arg != "" && len(g) > 1 {
				return p.t(c, m.key, m.arg, g[1]), true
			}
			return p.t(c, m.key), true
		}
	}
	if f := profileField.FindStringSubmatch(msg); f != nil {
		for _, r := range profileReasons {
			if m := r.re.FindStringSubmatch(f[1]); m != nil {
				if len(m) > 1 {
					return p.t(c, r.key, "Max", m[1]), true
				}
				return p.t(c, r.key), true
			}
		}
	}
	return "", false
}
