package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// The login, registration and logout pages. Each GET renders a form carrying a CSRF
// token; each POST checks it first (403 otherwise), and redirects with 303 when done.

const (
	// The messages' keys in the catalogs (Languages).
	msgBadLogin = "login.error.bad_credentials"
	// msgDisabled is shown only after the right password (SPEC "Accounts and sessions").
	msgDisabled    = "login.error.disabled"
	msgNoUsername  = "login.error.no_username"
	msgNoPassword  = "login.error.no_password"
	requestIDField = "req"
)

// pendingFor loads the pending request a page works for, or nil when the page was
// opened on its own.
func (p *Pages) pendingFor(c echo.Context, id, browser string) (*usecase.PendingRequest, error) {
	if id == "" {
		return nil, nil
	}
	got, err := p.authorize.Pending(c.Request().Context(), id, browser)
	if err != nil {
		return nil, err
	}
	return &got, nil
}

// renderAnswer shows a form page again with an error in its own words, with the
// status and headers Classify gave the error.
func (p *Pages) renderAnswer(c echo.Context, a Answer, name string, v view) error {
	setAnswerHeaders(c, a)
	return p.render(c, a.Status, name, v)
}

// loginView is the login page for an optional pending request.
func (p *Pages) loginView(c echo.Context, s *domain.Session, browser string, pr *usecase.PendingRequest) view {
	v := p.signInView(c, p.t(c, "login.title"), s, browser, pr)
	p.withPasskeySignIn(c, &v, s, browser)
	v.Upstreams = p.upstreamButtons(c, v.RequestID) // issue 22: "Continue with NAME"
	return v
}

// signInView is a page of a sign-in step titled title: its CSRF token, and the
// pending request it continues (whose redirect URI the form may then go to).
func (p *Pages) signInView(c echo.Context, title string, s *domain.Session, browser string, pr *usecase.PendingRequest) view {
	v := view{Title: title, CSRF: p.csrfToken(csrfBinding(s, browser)), Fields: map[string]string{}}
	if pr != nil {
		v.RequestID, v.ClientName = pr.Request.ID, pr.Client.Name
		allowFormTarget(c, pr.Request.RedirectURI)
	}
	return v
}

// loginGet serves GET /login. A browser already logged in for the request is not asked
// again: it goes straight on.
func (p *Pages) loginGet(c echo.Context) error {
	s, err := p.session(c)
	if err != nil {
		return err
	}
	browser := p.ensureBrowser(c)
	id := c.QueryParam(requestIDField)
	pr, err := p.pendingFor(c, id, browser)
	if err != nil {
		return err
	}
	// A login for the device page (RFC 8628) goes back there with the user code.
	devicePath, deviceCode := deviceReturn(c.QueryParam(userCodeField))
	if pr == nil && s != nil {
		if devicePath != "" {
			return c.Redirect(http.StatusFound, devicePath)
		}
		return c.Redirect(http.StatusFound, "/")
	}
	if pr != nil && !pr.NeedsLogin(s) {
		step, err := p.authorize.Resume(c.Request().Context(), id, browser, s)
		return p.follow(c, step, err)
	}
	v := p.loginView(c, s, browser, pr)
	v.UserCode = deviceCode
	return p.render(c, http.StatusOK, "login", v)
}

// signInForm reads a POST of a sign-in step (the password, the second factor): the
// form, the browser's session (if any) and id, the CSRF token checked against both,
// and the pending authorization request the form names, bound to this browser.
func (p *Pages) signInForm(c echo.Context) (f form, s *domain.Session, browser, id string, pr *usecase.PendingRequest, err error) {
	if f, err = parseForm(c); err != nil {
		return
	}
	if s, err = p.session(c); err != nil {
		return
	}
	browser = p.browser(c)
	if !p.csrfValid(c, f, s, browser) {
		return f, s, browser, "", nil, errCSRF
	}
	id = f.get(requestIDField)
	pr, err = p.pendingFor(c, id, browser)
	return
}

// loginPost serves POST /login: CSRF, the pending request's browser binding, then the
// password (throttled; one message for an unknown user and a wrong password).
func (p *Pages) loginPost(c echo.Context) error {
	f, s, browser, id, pr, err := p.signInForm(c)
	if err != nil {
		return err
	}
	v := p.loginView(c, s, browser, pr)
	devicePath, deviceCode := deviceReturn(f.get(userCodeField))
	v.UserCode = deviceCode
	v.Username = f.get("username")
	password := f.get("password")
	if v.Username == "" {
		v.Fields["username"] = p.t(c, msgNoUsername)
	}
	if password == "" {
		v.Fields["password"] = p.t(c, msgNoPassword)
	}
	if len(v.Fields) > 0 {
		return p.render(c, http.StatusBadRequest, "login", v)
	}
	ctx := c.Request().Context()
	ns, secret, err := p.login.LogInFrom(ctx, v.Username, password, c.RealIP(), p.knownMark(c), s)
	if sf := (*usecase.SecondFactorRequired)(nil); errors.As(err, &sf) {
		p.markKnown(c, v.Username)
		return p.toSecondFactor(c, sf, browser, id, deviceCode)
	}
	if err == nil {
		p.markKnown(c, v.Username)
	}
	if err != nil {
		a := Classify(err, SurfacePage)
		switch {
		case a.Status == http.StatusTooManyRequests:
			v.Error = p.t(c, "login.error.too_many", "Seconds", strconv.Itoa(a.RetryAfter))
		case errors.Is(err, domain.ErrUserDisabled):
			v.Error = p.t(c, msgDisabled)
		case errors.Is(err, domain.ErrInvalidGrant):
			v.Error = p.t(c, msgBadLogin)
		default:
			return err
		}
		return p.renderAnswer(c, a, "login", v)
	}
	return p.continueSignedIn(c, ns, secret, "user logged in", pr, id, browser, devicePath)
}

// continueSignedIn starts the session ns (secret in its cookie) in the browser, logs
// how it began (msg), and goes on: to the pending authorization request id when there
// is one (pr), else to the device page that sent the user to sign in, else home.
func (p *Pages) continueSignedIn(c echo.Context, ns domain.Session, secret, msg string, pr *usecase.PendingRequest,
	id, browser, devicePath string) error {
	ctx := c.Request().Context()
	p.setSession(c, ns, secret)
	p.log.InfoContext(ctx, msg, "user_id", ns.UserID, "remote", c.RealIP())
	if pr == nil && devicePath != "" {
		return c.Redirect(http.StatusSeeOther, devicePath)
	}
	if pr == nil {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	step, err := p.authorize.LoggedIn(ctx, id, browser, ns)
	return p.follow(c, step, err)
}

// registerView is the registration page for an optional pending request.
func (p *Pages) registerView(c echo.Context, s *domain.Session, browser string, pr *usecase.PendingRequest) view {
	v := view{Title: p.t(c, "register.title"), CSRF: p.csrfToken(csrfBinding(s, browser)), Fields: map[string]string{}}
	if pr != nil {
		v.RequestID, v.ClientName = pr.Request.ID, pr.Client.Name
		allowFormTarget(c, pr.Request.RedirectURI)
	}
	return v
}

// registerGet serves GET /register (GATEHOUSE_REGISTRATION_ENABLED).
func (p *Pages) registerGet(c echo.Context) error {
	if !p.registration {
		return errRegistrationOff
	}
	s, err := p.session(c)
	if err != nil {
		return err
	}
	browser := p.ensureBrowser(c)
	pr, err := p.pendingFor(c, c.QueryParam(requestIDField), browser)
	if err != nil {
		return err
	}
	v := p.registerView(c, s, browser, pr)
	// Signing up from a device login returns to the device page, like login does.
	_, v.UserCode = deviceReturn(c.QueryParam(userCodeField))
	return p.render(c, http.StatusOK, "register", v)
}

// registerPost creates the account (rules in usecase.Admin.SignUp; throttled per
// address), logs the new user in, and continues the pending request when there is
// one. A taken email is not reported: the page goes on as for a new one.
func (p *Pages) registerPost(c echo.Context) error {
	if !p.registration {
		return errRegistrationOff
	}
	f, err := parseForm(c)
	if err != nil {
		return err
	}
	s, err := p.session(c)
	if err != nil {
		return err
	}
	browser := p.browser(c)
	if !p.csrfValid(c, f, s, browser) {
		return errCSRF
	}
	id := f.get(requestIDField)
	pr, err := p.pendingFor(c, id, browser)
	if err != nil {
		return err
	}
	v := p.registerView(c, s, browser, pr)
	devicePath, deviceCode := deviceReturn(f.get(userCodeField))
	v.UserCode = deviceCode
	v.Username, v.Email = strings.TrimSpace(f.get("username")), strings.TrimSpace(f.get("email"))
	password := f.get("password")
	if v.Username == "" {
		v.Fields["username"] = p.t(c, "register.error.choose_username")
	}
	if v.Email == "" {
		v.Fields["email"] = p.t(c, "register.error.enter_email")
	}
	if password == "" {
		v.Fields["password"] = p.t(c, "register.error.choose_password")
	}
	if len(v.Fields) > 0 {
		// The fields filled in are checked too, so that one answer marks them all.
		var ve *usecase.ValidationError
		if errors.As(p.login.CheckSignUp(usecase.NewUser{Username: v.Username, Email: v.Email, Password: password}), &ve) {
			for _, e := range ve.All() {
				if _, empty := v.Fields[e.Field]; !empty && e.Field != "" {
					v.Fields[e.Field] = p.say(c, e.Message)
				}
			}
		}
		return p.render(c, http.StatusBadRequest, "register", v)
	}
	ctx := c.Request().Context()
	ns, secret, err := p.login.Register(ctx, usecase.NewUser{Username: v.Username, Email: v.Email, Password: password}, c.RealIP(), s)
	if err != nil {
		a := Classify(err, SurfacePage)
		var ve *usecase.ValidationError
		switch {
		case a.Status == http.StatusTooManyRequests:
			v.Error = p.t(c, "register.error.too_many", "Seconds", strconv.Itoa(a.RetryAfter))
		case errors.As(err, &ve) && ve.Field == "":
			v.Error = p.say(c, ve.Message)
		case errors.As(err, &ve):
			for _, e := range ve.All() {
				v.Fields[e.Field] = p.say(c, e.Message)
			}
		default:
			return err
		}
		return p.renderAnswer(c, a, "register", v)
	}
	p.accounts.WelcomeIn(p.lang(c), ns.UserID, v.Email) // its mail in the page's language
	return p.continueSignedIn(c, ns, secret, "user registered", pr, id, browser, devicePath)
}

// logoutParams are the parameters of an RP-initiated logout request (OpenID Connect
// RP-Initiated Logout 1.0 §2), from the query of a GET or the form of a POST.
var logoutParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"}

// readLogout reads the logout request parameters. A repeated one makes the whole
// request untrusted: it is read as having none, so there is no redirect.
func readLogout(get func(string) []string) (in usecase.EndSessionParams, repeated bool) {
	vals := map[string]string{}
	for _, name := range logoutParams {
		switch vs := get(name); {
		case len(vs) > 1:
			return usecase.EndSessionParams{}, true
		case len(vs) == 1 && cleanText(vs[0]):
			vals[name] = vs[0]
		}
	}
	return usecase.EndSessionParams{IDTokenHint: vals["id_token_hint"], ClientID: vals["client_id"],
		PostLogoutRedirectURI: vals["post_logout_redirect_uri"], State: vals["state"]}, false
}

// logoutGet serves GET /logout: a confirmation form, so that a link or an image on
// another site cannot log the user out. An RP-initiated request (id_token_hint,
// client_id, post_logout_redirect_uri, state) is checked here and again on POST; a
// browser without a session has nothing to confirm and goes straight back to a
// trusted post_logout_redirect_uri.
func (p *Pages) logoutGet(c echo.Context) error {
	s, err := p.session(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	in, repeated := readLogout(func(k string) []string { return c.QueryParams()[k] })
	req, err := p.endSession.Check(ctx, in)
	if err != nil {
		return err
	}
	if repeated {
		req.Problem = "a parameter of the sign-out request is repeated"
	}
	if s == nil && req.RedirectURL != "" {
		return c.Redirect(http.StatusFound, req.RedirectURL)
	}
	v := view{Title: p.t(c, "logout.title"), Error: p.say(c, req.Problem)}
	if s != nil {
		u, err := p.login.UserOf(ctx, *s)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		v.SignedInAs, v.CSRF = u.Username, p.csrfToken(csrfBinding(s, ""))
		if req.HintSubject != "" && req.HintSubject != s.UserID {
			v.Notice = p.t(c, "logout.other_account")
		}
		if req.RedirectURL != "" {
			v.ClientName, v.RedirectHost = req.ClientName, hostOf(req.RedirectURI)
			allowFormTarget(c, req.RedirectURI) // the POST ends in a redirect there
			for _, f := range []hiddenField{{"id_token_hint", in.IDTokenHint}, {"client_id", in.ClientID},
				{"post_logout_redirect_uri", in.PostLogoutRedirectURI}, {"state", in.State}} {
				if f.Value != "" {
					v.Hidden = append(v.Hidden, f)
				}
			}
		}
	}
	return p.render(c, http.StatusOK, "logout", v)
}

// logoutPost ends the session on the server and revokes the refresh tokens it led to,
// then sends the browser to the post_logout_redirect_uri (with state) when the
// request carried a trusted one, else to the signed-out page. Every value is checked
// again: the form's hidden fields are as untrusted as the first GET.
func (p *Pages) logoutPost(c echo.Context) error {
	f, err := parseForm(c)
	if err != nil {
		return err
	}
	s, err := p.session(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	in, _ := readLogout(func(k string) []string {
		if v := f.get(k); v != "" {
			return []string{v}
		}
		return nil
	})
	req, err := p.endSession.Check(ctx, in)
	if err != nil {
		return err
	}
	done := "/?signed_out=1"
	if req.RedirectURL != "" {
		done = req.RedirectURL
	}
	if s == nil {
		// Already signed out (another tab): nothing to change, nothing to protect.
		p.clearSession(c)
		return c.Redirect(http.StatusSeeOther, done)
	}
	if !p.csrfValid(c, f, s, "") {
		return errCSRF
	}
	if err := p.login.LogOut(ctx, *s); err != nil {
		return err
	}
	p.clearSession(c)
	p.log.InfoContext(ctx, "user logged out", "user_id", s.UserID, "rp_initiated", req.RedirectURL != "")
	return c.Redirect(http.StatusSeeOther, done)
}
