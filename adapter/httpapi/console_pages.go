package httpapi

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// consolePageSize is how many rows a console list shows per page.
const consolePageSize = 25

// consoleView is everything a console page may show; html/template escapes every
// value for its context (SECURITY S43).
type consoleView struct {
	Title   string
	Wide    bool
	Section string // the navigation's current entry
	CSRF    string
	Admin   string // the administrator's username
	Error   string
	Notice  string
	Fields  map[string]string
	Langs   []langLink // the footer's language switcher

	Query   string
	PrevURL string
	NextURL string
	Total   int // rows on this page

	Clients    []domain.Client
	Client     domain.Client
	ClientForm consoleClientForm
	GrantTypes []string
	Secret     string

	Users    []domain.User
	User     domain.User
	UserForm consoleUserForm
	Factors  usecase.FactorStatus
	// PasskeyNames are the names of the user's passkeys, for the factors' line.
	PasskeyNames string
	// NoPassword: the user has no password (signs in through an upstream or a passkey).
	NoPassword bool
	Sessions   []consoleSessionView
	Consents   []consoleConsentView
	// Resources: the user page can show sessions and consents.
	Resources bool
	// Linking: the user page can show the identities linked at upstreams.
	Linking    bool
	Identities []consoleIdentityView

	Keys []keyView
	Algs []string

	Events []domain.AuditEvent
	// Names are the usernames and client names of the ids the events name.
	Names  map[string]string
	Filter auditFilterView
	Types  []string

	Chart                            template.HTML
	SignInsOK, SignInsFailed, Tokens int64
	ActiveKeys                       int

	Confirm confirmView
}

type confirmView struct{ What, Name, Action, Consequence string }

type keyView struct {
	domain.SigningKey
	State string
}

type auditFilterView struct{ User, Type, Since string }

type consoleSessionView struct {
	ID, UserAgent, Address string
	CreatedAt, LastSeenAt  time.Time
	Current                bool
}

type consoleConsentView struct {
	ClientID, ClientName, Scope string
	GrantedAt                   time.Time
}

// consoleIdentityView is what the user has linked at one upstream: who the user is
// there (username, email), when first linked and last used.
type consoleIdentityView struct {
	UpstreamID, UpstreamName, Who string
	LinkedAt, LastUsedAt          time.Time
}

func (k *Console) view(op *operator, title, section string) *consoleView {
	return &consoleView{Title: title, Section: section, CSRF: op.csrf, Admin: op.user.Username, Fields: map[string]string{}}
}

// maxSearch bounds a search or filter the console passes on.
const maxSearch = 200

// searchText is a search or filter as typed, trimmed; false when it cannot be one
// (invalid UTF-8, a control character such as NUL, which a database refuses, or
// longer than maxSearch).
func searchText(raw string) (string, bool) {
	s := strings.TrimSpace(raw)
	if !utf8.ValidString(s) || len(s) > maxSearch {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", false
		}
	}
	return s, true
}

// searchOf is the query parameter name as a search, with the view's message when it
// cannot be one (then "": everything is listed).
func (k *Console) searchOf(c echo.Context, v *consoleView, name string) string {
	s, ok := searchText(c.QueryParam(name))
	if !ok {
		v.Fields[name] = k.t(c, "console.error.search")
	}
	return s
}

// cursor reads a list page's ?after= cursor (Unix nanoseconds, a dot, an id): the
// position of the last row of the page before; zero for the first page or a bad one.
func cursor(c echo.Context) (usecase.ListPosition, bool) {
	raw := c.QueryParam("after")
	ns, id, ok := strings.Cut(raw, ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if raw == "" || !ok || err != nil || id == "" {
		return usecase.ListPosition{}, raw != ""
	}
	return usecase.ListPosition{CreatedAt: time.Unix(0, n).UTC(), ID: id}, false
}

// pageLinks sets the links of a keyset page: back to the first, on to next.
func pageLinks(c echo.Context, v *consoleView, after, next usecase.ListPosition, n int) {
	q := c.QueryParams()
	q.Del("after")
	if !after.CreatedAt.IsZero() || after.ID != "" {
		v.PrevURL = c.Request().URL.Path + "?" + q.Encode()
	}
	if next.ID != "" {
		q.Set("after", strconv.FormatInt(next.CreatedAt.UnixNano(), 10)+"."+next.ID)
		v.NextURL = c.Request().URL.Path + "?" + q.Encode()
	}
	v.Total = n
}

// ---- dashboard ----

func (k *Console) dashboard(c echo.Context, op *operator) error {
	v := k.view(op, k.t(c, "console.title.console"), "dashboard")
	ctx := ctxOf(c)
	now := k.now().UTC()
	start := now.Truncate(time.Hour).Add(-23 * time.Hour)
	var ok, failed [24]int64
	for _, t := range []struct {
		typ string
		dst *[24]int64
	}{{domain.AuditUserLoginSucceeded, &ok}, {domain.AuditUserLoginFailed, &failed}} {
		events, err := k.audit.List(ctx, usecase.AuditFilter{Type: t.typ, Since: start, Limit: 10000})
		if err != nil {
			return err
		}
		for _, e := range events {
			if i := int(e.Time.Sub(start) / time.Hour); i >= 0 && i < 24 {
				t.dst[i]++
			}
		}
	}
	tokens, err := k.token.Issued().Last24Hours(ctx)
	if err != nil {
		return err
	}
	v.Chart = signInChart(start, ok, failed, tokens, func(key string, args ...string) string { return k.t(c, key, args...) })
	for i := range 24 {
		v.SignInsOK += ok[i]
		v.SignInsFailed += failed[i]
		v.Tokens += tokens[i]
	}
	keys, err := k.keys.List(ctx)
	if err != nil {
		return err
	}
	for _, key := range keys {
		if key.SignsAt(now) {
			v.ActiveKeys++
		}
	}
	return k.render(c, http.StatusOK, "console_dashboard", v)
}

// signInChart draws the last 24 hours as an inline SVG: per hour, sign-ins that
// succeeded and failed as bars, tokens issued as a line. Only numbers go into it;
// colours come from the stylesheet (classes), as the CSP allows no inline style.
func signInChart(start time.Time, ok, failed, tokens [24]int64, text func(key string, args ...string) string) template.HTML {
	esc := func(key string, args ...string) string { return template.HTMLEscapeString(text(key, args...)) }
	const w, h, left, bottom, top = 720, 220, 40, 24, 10
	var peak int64 = 1
	for i := range 24 {
		peak = max(peak, ok[i]+failed[i], tokens[i])
	}
	plotH := float64(h - bottom - top)
	y := func(n int64) float64 { return float64(h-bottom) - float64(n)/float64(peak)*plotH }
	slot := float64(w-left) / 24
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title chart-desc">`, w, h)
	b.WriteString(`<title id="chart-title">` + esc("console.chart.title") + `</title>`)
	b.WriteString(`<desc id="chart-desc">` + esc("console.chart.desc", "Peak", strconv.FormatInt(peak, 10)) + `</desc>`)
	for _, frac := range []float64{0, .5, 1} {
		n := int64(float64(peak) * frac)
		fmt.Fprintf(&b, `<line class="chart-grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, left, w, y(n), y(n))
		fmt.Fprintf(&b, `<text class="chart-label" x="%d" y="%.1f" text-anchor="end">%d</text>`, left-6, y(n)+4, n)
	}
	var line []string
	for i := range 24 {
		x := float64(left) + float64(i)*slot
		bw := slot * .6
		if ok[i] > 0 {
			fmt.Fprintf(&b, `<rect class="chart-ok" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
				x+slot*.2, y(ok[i]), bw, float64(h-bottom)-y(ok[i]),
				esc("console.chart.succeeded", "Hour", start.Add(time.Duration(i)*time.Hour).Format("15:04"), "N", strconv.FormatInt(ok[i], 10)))
		}
		if failed[i] > 0 {
			fmt.Fprintf(&b, `<rect class="chart-failed" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
				x+slot*.2, y(ok[i]+failed[i]), bw, y(ok[i])-y(ok[i]+failed[i]),
				esc("console.chart.failed", "Hour", start.Add(time.Duration(i)*time.Hour).Format("15:04"), "N", strconv.FormatInt(failed[i], 10)))
		}
		line = append(line, fmt.Sprintf("%.1f,%.1f", x+slot/2, y(tokens[i])))
		if i%4 == 0 {
			fmt.Fprintf(&b, `<text class="chart-label" x="%.1f" y="%d" text-anchor="middle">%s</text>`,
				x+slot/2, h-6, start.Add(time.Duration(i)*time.Hour).Format("15:04"))
		}
	}
	fmt.Fprintf(&b, `<polyline class="chart-tokens" points="%s"/>`, strings.Join(line, " "))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and escaped catalog text only
}

// ---- clients ----

// consoleClientForm is the client form as typed.
type consoleClientForm struct {
	Name, RedirectURIs, PostLogoutURIs, Scopes, Audiences, BackchannelURI string
	Grants                                                                []string
	Public, SkipConsent, RequireMFA, RequirePAR, RequireDPoP, Disabled    bool
}

func formOfClient(cl domain.Client) consoleClientForm {
	return consoleClientForm{Name: cl.Name, RedirectURIs: strings.Join(cl.RedirectURIs, "\n"),
		PostLogoutURIs: strings.Join(cl.PostLogoutRedirectURIs, "\n"), Scopes: strings.Join(cl.Scopes, " "),
		Audiences: strings.Join(cl.Audiences, " "), BackchannelURI: cl.BackchannelLogoutURI, Grants: cl.GrantTypes,
		Public: cl.Public, SkipConsent: cl.SkipConsent, RequireMFA: cl.RequireMFA, RequirePAR: cl.RequirePAR,
		RequireDPoP: cl.RequireDPoP, Disabled: cl.Disabled}
}

// newClient is what the form asks to create.
func (cf consoleClientForm) newClient() usecase.NewClient {
	return usecase.NewClient{Name: cf.Name, RedirectURIs: words(cf.RedirectURIs),
		PostLogoutRedirectURIs: words(cf.PostLogoutURIs), GrantTypes: cf.Grants, Scopes: words(cf.Scopes),
		Audiences: words(cf.Audiences), Public: cf.Public, SkipConsent: cf.SkipConsent, RequireMFA: cf.RequireMFA,
		RequirePAR: cf.RequirePAR, RequireDPoP: cf.RequireDPoP, BackchannelLogoutURI: cf.BackchannelURI}
}

// markOtherClientProblems adds, beside the fields the form found empty (the name, the
// grant types), the problems of the fields filled in, so that one answer shows them
// all (Admin.CheckNewClient). An empty name or grant list stands in as a valid one:
// the grant client_credentials asks nothing of the other fields but that the client
// be confidential, and that problem is of the grant types, marked already.
func (k *Console) markOtherClientProblems(c echo.Context, v *consoleView, cf consoleClientForm) {
	in := cf.newClient()
	if in.Name == "" {
		in.Name = "-"
	}
	if len(in.GrantTypes) == 0 {
		in.GrantTypes = []string{domain.GrantClientCredentials}
	}
	found := &consoleView{Fields: map[string]string{}}
	if !k.clientError(c, found, k.admin.CheckNewClient(in)) {
		return
	}
	for field, msg := range found.Fields {
		if _, marked := v.Fields[field]; !marked {
			v.Fields[field] = msg
		}
	}
	if v.Error == "" {
		v.Error = found.Error
	}
}

func readClientForm(f form) consoleClientForm {
	cf := consoleClientForm{Name: strings.TrimSpace(f.get("client_name")), RedirectURIs: f.get("redirect_uris"),
		PostLogoutURIs: f.get("post_logout_redirect_uris"), Scopes: f.get("scope"), Audiences: f.get("audience"),
		BackchannelURI: strings.TrimSpace(f.get("backchannel_logout_uri")),
		Public:         f.get("public") != "", SkipConsent: f.get("skip_consent") != "", RequireMFA: f.get("require_mfa") != "",
		RequirePAR: f.get("require_par") != "", RequireDPoP: f.get("require_dpop") != "", Disabled: f.get("disabled") != ""}
	for _, g := range domain.KnownGrantTypes {
		if f.get("grant_"+g) != "" {
			cf.Grants = append(cf.Grants, g)
		}
	}
	return cf
}

func words(s string) []string { return strings.Fields(strings.ReplaceAll(s, ",", " ")) }

// clientError puts a use case's refusal next to its field, or at the top.
func (k *Console) clientError(c echo.Context, v *consoleView, err error) bool {
	var fe *domain.FieldError
	var ve *usecase.ValidationError
	switch {
	case errors.As(err, &fe):
		var others []string
		for _, f := range fe.All() {
			switch f.Field {
			case "audience", "scope", "client_name", "redirect_uris", "grant_types", "backchannel_logout_uri":
				v.Fields[f.Field] = k.p.sayFieldProblem(c, f)
			default:
				others = append(others, k.p.sayFieldProblem(c, f))
			}
		}
		if len(others) > 0 {
			v.Error = strings.Join(others, " ")
		}
		return true
	case errors.As(err, &ve):
		switch ve.Field {
		case "name":
			v.Fields["client_name"] = k.p.say(c, ve.Message)
		default:
			v.Error = k.p.say(c, ve.Message)
		}
		return true
	}
	return false
}

// listView is the view of a list page (title key, section): its search, and the page
// position it asks for (a bad one is the first page, with a message).
func (k *Console) listView(c echo.Context, op *operator, title, section string) (*consoleView, usecase.ListPosition) {
	v := k.view(op, k.t(c, title), section)
	v.Query = k.searchOf(c, v, "q")
	after, bad := cursor(c)
	if bad {
		v.Error = k.t(c, "console.error.no_page")
	}
	return v, after
}

func (k *Console) clientsList(c echo.Context, op *operator) error {
	v, after := k.listView(c, op, "console.title.clients", "clients")
	page, next, err := k.resources.Clients(ctxOf(c), usecase.ClientFilter{Q: v.Query, After: after, Limit: consolePageSize})
	if err != nil {
		return err
	}
	v.Clients = page
	pageLinks(c, v, after, next, len(page))
	if c.QueryParam("deleted") == "1" {
		v.Notice = k.t(c, "console.notice.client_deleted")
	}
	return k.render(c, http.StatusOK, "console_clients", v)
}

func (k *Console) clientNew(c echo.Context, op *operator) error {
	v := k.view(op, k.t(c, "console.title.new_client"), "clients")
	v.GrantTypes = domain.KnownGrantTypes
	v.ClientForm = consoleClientForm{Grants: domain.DefaultGrantTypes, Scopes: strings.Join(domain.DefaultClientScopes, " ")}
	return k.render(c, http.StatusOK, "console_client", v)
}

func (k *Console) clientCreate(c echo.Context, op *operator, f form) error {
	v := k.view(op, k.t(c, "console.title.new_client"), "clients")
	v.GrantTypes = domain.KnownGrantTypes
	cf := readClientForm(f)
	v.ClientForm = cf
	if cf.Name == "" {
		v.Fields["client_name"] = k.t(c, "console.error.enter_name")
	}
	if len(cf.Grants) == 0 {
		v.Fields["grant_types"] = k.t(c, "console.error.choose_grant")
	}
	if len(v.Fields) > 0 {
		k.markOtherClientProblems(c, v, cf)
		return k.render(c, http.StatusBadRequest, "console_client", v)
	}
	created, err := k.admin.CreateClient(ctxOf(c), cf.newClient())
	if err != nil {
		if k.clientError(c, v, err) {
			return k.render(c, http.StatusBadRequest, "console_client", v)
		}
		return err
	}
	k.log.InfoContext(ctxOf(c), "console: client created", "client_id", created.Client.ID, "admin", op.user.ID)
	return k.showSecret(c, op, created.Client, created.Secret, k.t(c, "console.notice.client_created"))
}

// showSecret shows a client's new secret this once (never stored in the clear).
func (k *Console) showSecret(c echo.Context, op *operator, cl domain.Client, secret, notice string) error {
	v := k.view(op, cl.Name, "clients")
	v.Client, v.Secret, v.Notice = cl, secret, notice
	return k.render(c, http.StatusOK, "console_secret", v)
}

func (k *Console) clientEdit(c echo.Context, op *operator) error {
	cl, err := k.clientByID(c)
	if err != nil {
		return err
	}
	v := k.view(op, cl.Name, "clients")
	v.Client, v.ClientForm, v.GrantTypes = cl, formOfClient(cl), domain.KnownGrantTypes
	if c.QueryParam("saved") == "1" {
		v.Notice = k.t(c, "console.notice.client_saved")
	}
	return k.render(c, http.StatusOK, "console_client", v)
}

func (k *Console) clientUpdate(c echo.Context, op *operator, f form) error {
	id := c.Param("id")
	cl, err := k.clientByID(c)
	if err != nil {
		return err
	}
	v := k.view(op, cl.Name, "clients")
	v.Client, v.GrantTypes = cl, domain.KnownGrantTypes
	cf := readClientForm(f)
	cf.Public = cl.Public
	v.ClientForm = cf
	if id == usecase.ConsoleClientID {
		v.Error = k.t(c, "console.error.own_client")
		return k.render(c, http.StatusBadRequest, "console_client", v)
	}
	if cf.Name == "" {
		v.Fields["client_name"] = k.t(c, "console.error.enter_name")
	}
	if len(cf.Grants) == 0 {
		v.Fields["grant_types"] = k.t(c, "console.error.choose_grant")
	}
	if len(v.Fields) > 0 {
		k.markOtherClientProblems(c, v, cf)
		return k.render(c, http.StatusBadRequest, "console_client", v)
	}
	redirects, logouts, scopes, auds := words(cf.RedirectURIs), words(cf.PostLogoutURIs), words(cf.Scopes), words(cf.Audiences)
	_, err = k.admin.UpdateClient(ctxOf(c), id, usecase.ClientUpdate{Name: &cf.Name, RedirectURIs: &redirects,
		PostLogoutRedirectURIs: &logouts, GrantTypes: &cf.Grants, Scopes: &scopes, Audiences: &auds,
		SkipConsent: &cf.SkipConsent, RequireMFA: &cf.RequireMFA, RequirePAR: &cf.RequirePAR, RequireDPoP: &cf.RequireDPoP,
		BackchannelLogoutURI: &cf.BackchannelURI, Disabled: &cf.Disabled})
	if err != nil {
		if k.clientError(c, v, err) {
			return k.render(c, http.StatusBadRequest, "console_client", v)
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/clients/"+url.PathEscape(id)+"?saved=1")
}

func (k *Console) clientRotate(c echo.Context, op *operator, _ form) error {
	id := c.Param("id")
	cl, err := k.clientByID(c)
	if err != nil {
		return err
	}
	secret, err := k.admin.RotateSecret(ctxOf(c), id)
	var ve *usecase.ValidationError
	if errors.As(err, &ve) {
		v := k.view(op, cl.Name, "clients")
		v.Client, v.ClientForm, v.GrantTypes, v.Error = cl, formOfClient(cl), domain.KnownGrantTypes, k.p.say(c, ve.Message)
		return k.render(c, http.StatusBadRequest, "console_client", v)
	}
	if err != nil {
		return err
	}
	return k.showSecret(c, op, cl, secret, k.t(c, "console.notice.secret_rotated"))
}

func (k *Console) clientDeleteConfirm(c echo.Context, op *operator) error {
	cl, err := k.clientByID(c)
	if err != nil {
		return err
	}
	v := k.view(op, k.t(c, "console.title.delete", "Name", cl.Name), "clients")
	v.Confirm = confirmView{What: "client", Name: cl.Name, Action: "/admin/clients/" + url.PathEscape(cl.ID) + "/delete",
		Consequence: k.t(c, "console.confirm.client.consequence")}
	return k.render(c, http.StatusOK, "console_confirm", v)
}

func (k *Console) clientDelete(c echo.Context, op *operator, _ form) error {
	id := c.Param("id")
	if id == usecase.ConsoleClientID {
		return k.renderError(c, http.StatusBadRequest, k.t(c, "console.error.own_client_delete.title"),
			k.t(c, "console.error.own_client_delete.advice"))
	}
	if _, err := k.clientByID(c); err != nil {
		return err
	}
	if err := k.admin.DeleteClient(ctxOf(c), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/clients?deleted=1")
}

// ---- users ----

// consoleUserForm is the user form as typed.
type consoleUserForm struct {
	Username, Email, Groups                                             string
	Name, GivenName, FamilyName, PhoneNumber, Locale, Zoneinfo, Picture string
	EmailVerified, Disabled                                             bool
}

func formOfUser(u domain.User) consoleUserForm {
	return consoleUserForm{Username: u.Username, Email: u.Email, Groups: strings.Join(u.Groups, " "), Name: u.Name,
		GivenName: u.GivenName, FamilyName: u.FamilyName, PhoneNumber: u.PhoneNumber, Locale: u.Locale,
		Zoneinfo: u.Zoneinfo, Picture: u.Picture, EmailVerified: u.EmailVerified, Disabled: u.Disabled}
}

func readUserForm(f form) consoleUserForm {
	return consoleUserForm{Username: strings.TrimSpace(f.get("username")), Email: strings.TrimSpace(f.get("email")),
		Groups: f.get("groups"), Name: f.get("name"), GivenName: f.get("given_name"), FamilyName: f.get("family_name"),
		PhoneNumber: f.get("phone_number"), Locale: f.get("locale"), Zoneinfo: f.get("zoneinfo"), Picture: f.get("picture"),
		EmailVerified: f.get("email_verified") != "", Disabled: f.get("disabled") != ""}
}

func (uf consoleUserForm) profile() domain.Profile {
	return domain.Profile{Name: uf.Name, GivenName: uf.GivenName, FamilyName: uf.FamilyName, Picture: uf.Picture,
		Locale: uf.Locale, Zoneinfo: uf.Zoneinfo, PhoneNumber: uf.PhoneNumber}
}

// hiddenUserFields are the catalog keys of the names of the user fields that the
// console's form keeps in hidden inputs (the account page shows them).
var hiddenUserFields = map[string]string{"picture": "acct.picture", "locale": "layout.language", "zoneinfo": "acct.zoneinfo"}

// userError puts a use case's refusal next to its field.
func (k *Console) userError(c echo.Context, v *consoleView, err error) bool {
	var ve *usecase.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	var others []string
	for _, e := range ve.All() {
		switch e.Field {
		case "username", "email", "password", "groups", "name", "given_name", "family_name", "phone_number":
			v.Fields[e.Field] = k.p.say(c, e.Message)
		default:
			// The form has no place of its own for it (picture, locale and zoneinfo
			// are kept in hidden inputs): above the form, after the field's name.
			msg := k.p.say(c, e.Message)
			if label, ok := hiddenUserFields[e.Field]; ok {
				msg = k.t(c, label) + ": " + msg
			}
			others = append(others, msg)
		}
	}
	if len(others) > 0 {
		v.Error = strings.Join(others, " ")
	}
	return true
}

func (k *Console) usersList(c echo.Context, op *operator) error {
	v, after := k.listView(c, op, "console.title.users", "users")
	page, next, err := k.resources.Users(ctxOf(c), usecase.UserFilter{Q: v.Query, Group: k.searchOf(c, v, "group"),
		After: after, Limit: consolePageSize})
	if err != nil {
		return err
	}
	v.Users = page
	pageLinks(c, v, after, next, len(page))
	if c.QueryParam("deleted") == "1" {
		v.Notice = k.t(c, "console.notice.user_deleted")
	}
	return k.render(c, http.StatusOK, "console_users", v)
}

func (k *Console) userNew(c echo.Context, op *operator) error {
	v := k.view(op, k.t(c, "console.title.new_user"), "users")
	return k.render(c, http.StatusOK, "console_user", v)
}

func (k *Console) userCreate(c echo.Context, op *operator, f form) error {
	v := k.view(op, k.t(c, "console.title.new_user"), "users")
	uf := readUserForm(f)
	v.UserForm = uf
	u, err := k.admin.CreateUser(ctxOf(c), usecase.NewUser{Username: uf.Username, Email: uf.Email, Password: f.get("password"),
		EmailVerified: uf.EmailVerified && uf.Email != "", Profile: uf.profile(), Groups: words(uf.Groups)})
	if err != nil {
		if k.userError(c, v, err) {
			return k.render(c, http.StatusBadRequest, "console_user", v)
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(u.ID)+"?saved=1")
}

// userPage is the view of user u's page.
func (k *Console) userPage(c echo.Context, op *operator, u domain.User) (*consoleView, error) {
	v := k.view(op, u.Username, "users")
	v.User, v.UserForm = u, formOfUser(u)
	if k.factors != nil {
		st, err := k.factors.Status(ctxOf(c), u.ID)
		if err != nil {
			return nil, err
		}
		v.Factors = st
		names := make([]string, len(st.Passkeys))
		for i, pk := range st.Passkeys {
			names[i] = pk.Name
		}
		v.PasskeyNames = strings.Join(names, ", ")
	}
	v.NoPassword = u.PasswordHash == ""
	if err := k.userResources(c, op, u, v); err != nil {
		return nil, err
	}
	return v, nil
}

func (k *Console) userEdit(c echo.Context, op *operator) error {
	u, err := k.userByID(c)
	if err != nil {
		return err
	}
	v, err := k.userPage(c, op, u)
	if err != nil {
		return err
	}
	switch c.QueryParam("saved") {
	case "1":
		v.Notice = k.t(c, "console.notice.user_saved")
	case "mfa":
		v.Notice = k.t(c, "console.notice.mfa_reset")
	case "session":
		v.Notice = k.t(c, "console.notice.session_ended")
	case "consent":
		v.Notice = k.t(c, "console.notice.consent_revoked")
	case "identity":
		v.Notice = k.t(c, "console.notice.identity_unlinked")
	case "reset":
		v.Notice = k.t(c, "console.notice.reset_mailed")
	}
	return k.render(c, http.StatusOK, "console_user", v)
}

// clientByID is the client of the path's :id.
func (k *Console) clientByID(c echo.Context) (domain.Client, error) {
	if _, ok := searchText(c.Param("id")); !ok {
		return domain.Client{}, domain.ErrNotFound
	}
	return k.admin.Client(ctxOf(c), c.Param("id"))
}

// userByID is the user of the path's :id (an id only, never a username).
func (k *Console) userByID(c echo.Context) (domain.User, error) {
	if _, ok := searchText(c.Param("id")); !ok {
		return domain.User{}, domain.ErrNotFound
	}
	u, err := k.admin.FindUser(ctxOf(c), c.Param("id"))
	if err != nil {
		return domain.User{}, err
	}
	if u.ID != c.Param("id") {
		return domain.User{}, domain.ErrNotFound
	}
	return u, nil
}

func (k *Console) userUpdate(c echo.Context, op *operator, f form) error {
	u, err := k.userByID(c)
	if err != nil {
		return err
	}
	uf := readUserForm(f)
	uf.Username = u.Username
	groups := words(uf.Groups)
	var add, remove []string
	for _, g := range groups {
		if !slices.Contains(u.Groups, g) {
			add = append(add, g)
		}
	}
	for _, g := range u.Groups {
		if !slices.Contains(groups, g) {
			remove = append(remove, g)
		}
	}
	if u.ID == op.user.ID && (uf.Disabled || slices.Contains(remove, AdminGroup)) {
		// Locking oneself out is done by another administrator, or on the command line.
		v, err := k.userPage(c, op, u)
		if err != nil {
			return err
		}
		v.UserForm = uf
		v.Error = k.t(c, "console.error.own_account")
		return k.render(c, http.StatusBadRequest, "console_user", v)
	}
	p := uf.profile()
	verified := uf.EmailVerified && uf.Email != ""
	in := usecase.UserUpdate{Email: &uf.Email, EmailVerified: &verified, Disabled: &uf.Disabled, AddGroups: add, RemoveGroups: remove,
		Profile: usecase.ProfileUpdate{Name: &p.Name, GivenName: &p.GivenName, FamilyName: &p.FamilyName, Picture: &p.Picture,
			Locale: &p.Locale, Zoneinfo: &p.Zoneinfo, PhoneNumber: &p.PhoneNumber}}
	if uf.Email == u.Email && uf.EmailVerified == u.EmailVerified {
		in.Email, in.EmailVerified = nil, nil // unchanged: no "changed" field in the audit log
	}
	if _, err := k.admin.UpdateUser(ctxOf(c), u.ID, in); err != nil {
		v, verr := k.userPage(c, op, u)
		if verr != nil {
			return verr
		}
		v.UserForm = uf
		if k.userError(c, v, err) {
			return k.render(c, http.StatusBadRequest, "console_user", v)
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(u.ID)+"?saved=1")
}

func (k *Console) userDeleteConfirm(c echo.Context, op *operator) error {
	u, err := k.userByID(c)
	if err != nil {
		return err
	}
	v := k.view(op, k.t(c, "console.title.delete", "Name", u.Username), "users")
	v.Confirm = confirmView{What: "user", Name: u.Username, Action: "/admin/users/" + url.PathEscape(u.ID) + "/delete",
		Consequence: k.t(c, "console.confirm.user.consequence")}
	return k.render(c, http.StatusOK, "console_confirm", v)
}

func (k *Console) userDelete(c echo.Context, op *operator, _ form) error {
	u, err := k.userByID(c)
	if err != nil {
		return err
	}
	if u.ID == op.user.ID {
		return k.renderError(c, http.StatusBadRequest, k.t(c, "console.error.own_delete.title"),
			k.t(c, "console.error.own_delete.advice"))
	}
	if err := k.admin.DeleteUser(ctxOf(c), u.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users?deleted=1")
}

func (k *Console) userResetMFA(c echo.Context, op *operator, _ form) error {
	u, err := k.userByID(c)
	if err != nil {
		return err
	}
	if k.factors == nil {
		return echo.ErrNotFound
	}
	if _, err := k.factors.Reset(ctxOf(c), u.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(u.ID)+"?saved=mfa")
}

// ---- keys ----

func (k *Console) keysList(c echo.Context, op *operator) error {
	v := k.view(op, k.t(c, "console.title.keys"), "keys")
	if err := k.keysView(c, v); err != nil {
		return err
	}
	if c.QueryParam("rotated") != "" {
		v.Notice = k.t(c, "console.notice.key_made")
	}
	return k.render(c, http.StatusOK, "console_keys", v)
}

func (k *Console) keysView(c echo.Context, v *consoleView) error {
	keys, err := k.keys.List(ctxOf(c))
	if err != nil {
		return err
	}
	now := k.now()
	for _, key := range keys {
		v.Keys = append(v.Keys, keyView{SigningKey: key, State: string(key.State(now))})
		if !slices.Contains(v.Algs, key.Alg) {
			v.Algs = append(v.Algs, key.Alg)
		}
	}
	slices.Sort(v.Algs)
	return nil
}

func (k *Console) keysRotate(c echo.Context, op *operator, f form) error {
	alg := f.get("alg")
	_, err := k.keys.Rotate(ctxOf(c), alg, f.get("immediate") != "")
	var ve *usecase.ValidationError
	var pe *domain.KeyPendingError
	if errors.As(err, &ve) || errors.As(err, &pe) {
		v := k.view(op, k.t(c, "console.title.keys"), "keys")
		if kerr := k.keysView(c, v); kerr != nil {
			return kerr
		}
		v.Error = sentence(err.Error())
		return k.render(c, http.StatusBadRequest, "console_keys", v)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/keys?rotated="+url.QueryEscape(alg))
}

// ---- audit ----

func (k *Console) auditList(c echo.Context, op *operator) error {
	v := k.view(op, k.t(c, "console.title.audit"), "audit")
	v.Types = domain.AuditTypes
	v.Filter = auditFilterView{User: k.searchOf(c, v, "user"), Type: c.QueryParam("type"), Since: strings.TrimSpace(c.QueryParam("since"))}
	if v.Fields["user"] != "" {
		return k.render(c, http.StatusBadRequest, "console_audit", v)
	}
	f := usecase.AuditFilter{Type: v.Filter.Type, Limit: 1000}
	if f.Type != "" && !slices.Contains(domain.AuditTypes, f.Type) {
		v.Fields["type"] = k.t(c, "console.error.choose_type")
		return k.render(c, http.StatusBadRequest, "console_audit", v)
	}
	if v.Filter.Since != "" {
		d, err := time.ParseDuration(v.Filter.Since)
		if err != nil || d <= 0 {
			v.Fields["since"] = k.t(c, "console.error.duration")
			return k.render(c, http.StatusBadRequest, "console_audit", v)
		}
		f.Since = k.now().Add(-d)
	}
	if v.Filter.User != "" {
		u, err := k.admin.FindUser(ctxOf(c), v.Filter.User)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			f.User = v.Filter.User // a deleted user's id still names their events
		case err != nil:
			var ve *usecase.ValidationError
			if !errors.As(err, &ve) {
				return err
			}
			v.Fields["user"] = k.p.say(c, ve.Message)
			return k.render(c, http.StatusBadRequest, "console_audit", v)
		default:
			f.User = u.ID
		}
	}
	if err := k.auditPage(c, v, f); err != nil {
		return err
	}
	k.auditNames(c, v)
	return k.render(c, http.StatusOK, "console_audit", v)
}

// auditNames names the users and clients the page's events refer to by id: one
// lookup per distinct id, at most maxAuditNames of them; a lookup that fails leaves
// the bare id.
func (k *Console) auditNames(c echo.Context, v *consoleView) {
	const maxAuditNames = 40
	v.Names = map[string]string{}
	tried := map[string]bool{"": true, domain.AuditActorCLI: true}
	ctx := ctxOf(c)
	for _, e := range v.Events {
		for _, id := range []string{e.Actor, e.Target} {
			if tried[id] || len(tried) > maxAuditNames {
				continue
			}
			tried[id] = true
			if u, err := k.admin.FindUser(ctx, id); err == nil && u.ID == id {
				v.Names[id] = u.Username
			} else if cl, err := k.admin.Client(ctx, id); err == nil {
				v.Names[id] = cl.Name
			}
		}
	}
}
