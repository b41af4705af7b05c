package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// The pages a mailed link opens, and the one that sends the reset mail: each GET
// shows a form (a mail scanner that follows a link uses nothing up), each POST does
// the work after the CSRF check.

const tokenField = "token"

// badLink is the one page for a link that is unknown, used, expired or voided.
func (p *Pages) badLink(c echo.Context, again string) error {
	v := view{Title: p.t(c, "link.bad_title"), Error: p.t(c, "link.bad"),
		Link: again, LinkLabel: p.t(c, "link.ask_new")}
	if again == "" {
		v.Link, v.LinkLabel = "/login", p.t(c, "login.submit")
	}
	if c.Request().Method != http.MethodGet {
		c.Set(langTargetKey, v.Link) // a GET of the form's path has no link to show
	}
	return p.render(c, http.StatusBadRequest, "notice", v)
}

// linkForm is the view of a form page, with the CSRF token of this browser and the
// session s (nil when none).
func (p *Pages) linkForm(c echo.Context, s *domain.Session, title, token string) view {
	return view{Title: title, CSRF: p.csrfToken(csrfBinding(s, p.ensureBrowser(c))), Token: token, Fields: map[string]string{}}
}

// checkedForm parses a POST and checks its CSRF token against this browser; it
// returns the browser's session too (nil when none), read once for both.
func (p *Pages) checkedForm(c echo.Context) (form, *domain.Session, error) {
	f, err := parseForm(c)
	if err != nil {
		return form{}, nil, err
	}
	s, err := p.session(c)
	if err != nil {
		return form{}, nil, err
	}
	if !p.csrfValid(c, f, s, p.browser(c)) {
		return form{}, nil, errCSRF
	}
	return f, s, nil
}

// verifyEmailGet serves GET /verify-email?token=T: a button, not the verification.
// Without a token it is the "verify your email" page of the signed-in user
// (GATEHOUSE_EMAIL_VERIFICATION=required), for a pending request when req names one.
func (p *Pages) verifyEmailGet(c echo.Context) error {
	token := c.QueryParam(tokenField)
	if token == "" {
		s, err := p.session(c)
		if err != nil {
			return err
		}
		return p.verifyEmailPrompt(c, s, c.QueryParam(requestIDField), "")
	}
	return p.linkPage(c, token, domain.PurposeVerifyEmail, p.t(c, "verify.title"), "verify_email", "")
}

// linkPage shows the form of a mailed link of purpose, or the bad-link page (with a
// way to ask for a new link at again) when the link cannot be used; it uses nothing up.
func (p *Pages) linkPage(c echo.Context, token, purpose, title, template, again string) error {
	if err := p.accounts.CheckLink(c.Request().Context(), token, purpose); err != nil {
		if errors.Is(err, usecase.ErrBadLink) {
			return p.badLink(c, again)
		}
		return err
	}
	s, err := p.session(c)
	if err != nil {
		return err
	}
	return p.render(c, http.StatusOK, template, p.linkForm(c, s, title, token))
}

// verifyEmailPost serves POST /verify-email: the address is verified.
func (p *Pages) verifyEmailPost(c echo.Context) error {
	f, _, err := p.checkedForm(c)
	if err != nil {
		return err
	}
	if err := p.accounts.VerifyEmail(c.Request().Context(), f.get(tokenField)); err != nil {
		if errors.Is(err, usecase.ErrBadLink) {
			return p.badLink(c, "")
		}
		return err
	}
	p.log.InfoContext(c.Request().Context(), "email verified", "remote", c.RealIP())
	c.Set(langTargetKey, "/")
	return p.render(c, http.StatusOK, "notice", view{Title: p.t(c, "verify.done_title"),
		Notice: p.t(c, "verify.done"), Link: "/", LinkLabel: p.t(c, "common.continue")})
}

// forgotPasswordGet serves GET /forgot-password.
func (p *Pages) forgotPasswordGet(c echo.Context) error {
	s, err := p.session(c)
	if err != nil {
		return err
	}
	return p.render(c, http.StatusOK, "forgot_password", p.linkForm(c, s, p.t(c, "forgot.title"), ""))
}

// forgotPasswordSent is the one answer to every well-formed request (SECURITY S48).
const forgotPasswordSent = "forgot.sent"

// forgotPasswordPost serves POST /forgot-password: the same answer whether or not an
// account has the address.
func (p *Pages) forgotPasswordPost(c echo.Context) error {
	f, s, err := p.checkedForm(c)
	if err != nil {
		return err
	}
	v := p.linkForm(c, s, p.t(c, "forgot.title"), "")
	v.Email = strings.TrimSpace(f.get("email"))
	err = p.accounts.ForgotPassword(usecase.WithLocale(c.Request().Context(), p.lang(c)), v.Email, c.RealIP())
	if err != nil {
		a := Classify(err, SurfacePage)
		var ve *usecase.ValidationError
		switch {
		case a.Status == http.StatusTooManyRequests:
			v.Error = p.t(c, "forgot.too_many", "Seconds", strconv.Itoa(a.RetryAfter))
		case errors.As(err, &ve):
			v.Fields["email"] = p.say(c, ve.Message)
		default:
			return err
		}
		return p.renderAnswer(c, a, "forgot_password", v)
	}
	return p.render(c, http.StatusOK, "notice", view{Title: p.t(c, "forgot.sent_title"), Notice: p.t(c, forgotPasswordSent),
		Link: "/login", LinkLabel: p.t(c, "common.back_to_sign_in")})
}

// resetPasswordGet serves GET /reset-password?token=T: the new-password form.
func (p *Pages) resetPasswordGet(c echo.Context) error {
	return p.linkPage(c, c.QueryParam(tokenField), domain.PurposeResetPassword, p.t(c, "reset.title"), "reset_password", "/forgot-password")
}

// resetPasswordPost serves POST /reset-password: sets the password, which ends every
// session and revokes every token of the user.
func (p *Pages) resetPasswordPost(c echo.Context) error {
	f, s, err := p.checkedForm(c)
	if err != nil {
		return err
	}
	token := f.get(tokenField)
	userID, err := p.accounts.ResetPassword(c.Request().Context(), token, f.get("password"), f.get("password_confirm"))
	var ve *usecase.ValidationError
	switch {
	case errors.Is(err, usecase.ErrBadLink):
		return p.badLink(c, "/forgot-password")
	case errors.As(err, &ve):
		c.Set(langTargetKey, "/reset-password?token="+url.QueryEscape(token)) // the link still works
		v := p.linkForm(c, s, p.t(c, "reset.title"), token)
		v.Fields[ve.Field] = p.say(c, ve.Message)
		return p.render(c, http.StatusBadRequest, "reset_password", v)
	case err != nil:
		return err
	}
	p.log.InfoContext(c.Request().Context(), "password reset", "remote", c.RealIP())
	p.clearSession(c)
	c.Set(langTargetKey, "/login")
	v := view{Title: p.t(c, "reset.done_title"), Notice: p.t(c, "reset.done"),
		Link: "/login", LinkLabel: p.t(c, "reset.sign_in_new")}
	v.StillSignsIn, v.StillAdvice = p.stillSignsIn(c, userID)
	return p.render(c, http.StatusOK, "notice", v)
}

// stillSignsIn describes what signs the user in without a password (passkeys,
// accounts at upstream providers), for the page after a reset: a reset after a
// break-in ends the sessions and tokens, but someone who added one of these with the
// stolen password could still sign in with it. The page is shown to whoever holds
// the reset link, who may have the mailbox and nothing else: it names each passkey
// and provider with its date, never who the user is at the provider (the account
// page shows that). It returns the list and the advice under it. The password is
// set by then, so a failure to read them is logged and said on the page, not an
// error.
func (p *Pages) stillSignsIn(c echo.Context, userID string) (out, advice []string) {
	ctx := c.Request().Context()
	unlisted := false
	status, err := p.factors.Status(ctx, userID)
	if err != nil {
		p.log.WarnContext(ctx, "list passkeys after a password reset", "err", err)
		unlisted = true
	}
	for _, k := range status.Passkeys {
		out = append(out, p.t(c, "reset.still_passkey", "Name", k.Name, "Date", p.date(c, k.CreatedAt)))
	}
	if p.upstreams != nil {
		got, err := p.upstreams.ForAccount(ctx, userID)
		if err != nil {
			p.log.WarnContext(ctx, "list linked accounts after a password reset", "err", err)
			unlisted = true
		}
		for _, l := range got.Linked {
			name := l.UpstreamName
			if name == "" {
				name = l.UpstreamID
			}
			out = append(out, p.t(c, "reset.still_upstream", "Name", name, "Date", p.date(c, l.CreatedAt)))
		}
	}
	if len(out) > 0 {
		advice = append(advice, p.t(c, "reset.still_advice"))
	}
	if len(status.Passkeys) > 0 && !status.TOTP {
		// Then a passkey is the second step of a password sign-in: one the owner does
		// not have keeps them off the account page where they would remove it.
		advice = append(advice, p.t(c, "reset.still_passkey_step"))
	}
	if unlisted {
		advice = append(advice, p.t(c, "reset.still_unlisted"))
	}
	return out, advice
}

// verifyEmailPrompt shows the signed-in user's "verify your email" page. With a
// pending request it first moves the request on: once the address is verified (in
// this tab or another), the same page continues to the application.
func (p *Pages) verifyEmailPrompt(c echo.Context, s *domain.Session, reqID, notice string) error {
	ctx := c.Request().Context()
	if s == nil {
		target := "/login"
		if reqID != "" {
			target += "?req=" + url.QueryEscape(reqID)
		}
		return c.Redirect(http.StatusSeeOther, target)
	}
	browser := p.ensureBrowser(c)
	v := view{Title: p.t(c, "verify.title"), CSRF: p.csrfToken(csrfBinding(s, browser)), Notice: notice}
	if reqID != "" {
		pr, err := p.pendingFor(c, reqID, browser)
		if err != nil {
			return err
		}
		step, err := p.authorize.Resume(ctx, reqID, browser, s)
		if err != nil {
			return err
		}
		if step.Kind != usecase.StepVerifyEmail {
			return p.follow(c, step, nil)
		}
		v.RequestID, v.ClientName = reqID, pr.Client.Name
	}
	u, err := p.login.UserOf(ctx, *s)
	if err != nil {
		return err
	}
	if u.EmailVerified {
		return p.render(c, http.StatusOK, "notice", view{Title: p.t(c, "verify.done_title"),
			Notice: p.t(c, "verify.already"), Link: "/", LinkLabel: p.t(c, "common.continue")})
	}
	v.Email, v.SignedInAs = u.ShownEmail(), u.Username
	return p.render(c, http.StatusOK, "verify_required", v)
}

// verifyEmailResend serves POST /verify-email/resend: a new link to the signed-in
// user's address (throttled per user), then the same page.
func (p *Pages) verifyEmailResend(c echo.Context) error {
	f, s, err := p.checkedForm(c)
	if err != nil {
		return err
	}
	reqID := f.get(requestIDField)
	if s == nil {
		return p.verifyEmailPrompt(c, s, reqID, "")
	}
	// A sign-in request that expired (or is not this browser's) while the page was
	// open is dropped before the mail goes: the new link is what was asked for, and
	// the page must not then answer that nothing could be done.
	if _, err := p.pendingFor(c, reqID, p.ensureBrowser(c)); err != nil {
		if Classify(err, SurfacePage).Status >= http.StatusInternalServerError {
			return err
		}
		reqID = ""
	}
	if err := p.accounts.ResendVerification(usecase.WithLocale(c.Request().Context(), p.lang(c)), s.UserID); err != nil {
		a := Classify(err, SurfacePage)
		if a.Status != http.StatusTooManyRequests {
			return err
		}
		setAnswerHeaders(c, a)
		return p.verifyEmailPrompt(c, s, reqID, p.t(c, "verify.resend_throttled", "Seconds", strconv.Itoa(a.RetryAfter)))
	}
	return p.verifyEmailPrompt(c, s, reqID, p.t(c, "verify.resent"))
}

// signedIn serves a POST of an account page form: the form read and its CSRF token
// checked, and a browser that is not signed in sent to /login.
func (p *Pages) signedIn(handle func(c echo.Context, f form, s *domain.Session) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		f, s, err := p.checkedForm(c)
		if err != nil {
			return err
		}
		if s == nil {
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		return handle(c, f, s)
	}
}

// accountNotice shows the account page of s with a notice at the top.
func (p *Pages) accountNotice(c echo.Context, s *domain.Session, notice string) error {
	v, err := p.accountView(c, s)
	if err != nil {
		return err
	}
	v.Notice = notice
	return p.render(c, http.StatusOK, "account", v)
}

// accountView is the /account page of the signed-in user s.
func (p *Pages) accountView(c echo.Context, s *domain.Session) (view, error) {
	u, err := p.login.UserOf(c.Request().Context(), *s)
	if err != nil {
		return view{}, err
	}
	v := view{Title: p.t(c, "home.account"), CSRF: p.csrfToken(csrfBinding(s, p.ensureBrowser(c))), Fields: map[string]string{},
		SignedInAs: u.Username, Email: u.ShownEmail(), EmailVerified: u.EmailVerified, Profile: u.Profile,
		NoPassword: u.PasswordHash == ""}
	sessions, err := p.login.Sessions(c.Request().Context(), *s)
	if err != nil {
		return view{}, err
	}
	for _, x := range sessions {
		sv := sessionView{ID: x.ID, Current: x.ID == s.ID, Browser: describeUserAgent(x.UserAgent), UserAgent: x.UserAgent,
			Address: x.Address, SignedIn: p.date(c, x.AuthTime)}
		if !x.LastSeenAt.IsZero() {
			sv.LastSeen = p.date(c, x.LastSeenAt)
		}
		v.Sessions = append(v.Sessions, sv)
	}
	if v.MFA, err = p.factors.Status(c.Request().Context(), s.UserID); err != nil {
		return view{}, err
	}
	v.Fresh = p.factors.Fresh(*s)
	v.Passkeys = passkeyViews(v.MFA.Passkeys, p.t(c, "format.datetime"))
	if v.Passkey, err = p.factors.BeginPasskeyRegistration(c.Request().Context(), *s, p.ensureBrowser(c)); err != nil {
		return view{}, err
	}
	if err := p.accountUpstreams(c, s, &v); err != nil { // issue 22
		return view{}, err
	}
	apps, err := p.apps.List(c.Request().Context(), s.UserID)
	if err != nil {
		return view{}, err
	}
	lists := make([][]usecase.ScopeView, len(apps))
	for i, a := range apps {
		lists[i] = a.Scopes
	}
	described := p.describeScopeLists(c, lists...)
	for i, a := range apps {
		v.Apps = append(v.Apps, appView{ClientID: a.ClientID, Name: a.ClientName, Scopes: described[i],
			Granted: p.date(c, a.GrantedAt)})
	}
	return v, nil
}

// appView is one connected app as the account page lists it.
type appView struct {
	ClientID, Name, Granted string
	Scopes                  []usecase.ScopeView
}

// sessionView is one session as the account page lists it.
type sessionView struct {
	ID, Browser, Address, SignedIn, LastSeen string
	UserAgent                                string // the whole header, shown on hover
	Current                                  bool
}

// accountSessionsEnd serves POST /account/sessions/end: input session_id ends that
// session of the user; without it, every session but this one.
func (p *Pages) accountSessionsEnd(c echo.Context, f form, s *domain.Session) error {
	ctx := c.Request().Context()
	id := f.get("session_id")
	notice := p.t(c, "acct.notice.others_signed_out")
	if err := p.login.EndSessions(ctx, *s, id); err != nil {
		if !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		notice = p.t(c, "acct.notice.session_ended")
	} else if id != "" {
		notice = p.t(c, "acct.notice.device_signed_out")
	}
	if id == s.ID {
		p.clearSession(c)
		return c.Redirect(http.StatusSeeOther, "/?signed_out=1")
	}
	p.log.InfoContext(ctx, "sessions ended from the account page", "user_id", s.UserID, "remote", c.RealIP())
	return p.accountNotice(c, s, notice)
}

// accountGet serves GET /account: the signed-in user's account; others sign in first.
func (p *Pages) accountGet(c echo.Context) error {
	s, err := p.session(c)
	if err != nil {
		return err
	}
	if s == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	v, err := p.accountView(c, s)
	if err != nil {
		return err
	}
	return p.render(c, http.StatusOK, "account", v)
}

// accountPasswordPost serves POST /account/password: inputs current_password and
// new_password. The other devices are signed out; this browser stays signed in.
func (p *Pages) accountPasswordPost(c echo.Context, f form, s *domain.Session) error {
	v, err := p.accountView(c, s)
	if err != nil {
		return err
	}
	current, next := f.get("current_password"), f.get("new_password")
	if current == "" && !v.NoPassword {
		v.Fields["current_password"] = p.t(c, "acct.error.enter_current_password")
	}
	if next == "" {
		v.Fields["new_password"] = p.t(c, "acct.error.choose_new_password")
	}
	if len(v.Fields) > 0 {
		return p.render(c, http.StatusBadRequest, "account", v)
	}
	ctx := c.Request().Context()
	ns, secret, err := p.login.ChangePassword(ctx, *s, current, next, c.RealIP())
	if err != nil {
		a := Classify(err, SurfacePage)
		var ve *usecase.ValidationError
		switch {
		case a.Status == http.StatusTooManyRequests:
			v.Error = p.t(c, "acct.error.too_many_passwords", "Seconds", strconv.Itoa(a.RetryAfter))
		case errors.As(err, &ve):
			v.Fields[ve.Field] = p.say(c, ve.Message)
		default:
			return err
		}
		return p.renderAnswer(c, a, "account", v)
	}
	p.setSession(c, ns, secret)
	p.log.InfoContext(ctx, "password changed", "user_id", ns.UserID, "remote", c.RealIP())
	return p.accountNotice(c, &ns, p.t(c, "acct.notice.password_changed"))
}

// accountEmailPost serves POST /account/email: inputs new_email and current_password.
// The answer is the same whether or not another account has the address (SECURITY
// S48): a link to confirm goes to it, or a notice to its owner.
func (p *Pages) accountEmailPost(c echo.Context, f form, s *domain.Session) error {
	v, err := p.accountView(c, s)
	if err != nil {
		return err
	}
	// The password field of this form has its own id: the password change form has
	// one named alike.
	v.NewEmail = strings.TrimSpace(f.get("new_email"))
	password := f.get("current_password")
	if v.NewEmail == "" {
		v.Fields["new_email"] = p.t(c, "acct.error.enter_new_email")
	}
	if password == "" {
		v.Fields["email_password"] = p.t(c, "acct.error.enter_current_password")
		// The address is checked too, so that one answer names both fields.
		var ve *usecase.ValidationError
		if err := p.accounts.CheckNewEmail(v.NewEmail); v.NewEmail != "" && errors.As(err, &ve) {
			v.Fields["new_email"] = p.say(c, ve.Message)
		}
	}
	if len(v.Fields) > 0 {
		return p.render(c, http.StatusBadRequest, "account", v)
	}
	ctx := usecase.WithLocale(c.Request().Context(), p.lang(c)) // the mails' language for a user without a locale
	email, err := p.accounts.ChangeEmail(ctx, s.UserID, password, v.NewEmail, c.RealIP())
	if err != nil {
		a := Classify(err, SurfacePage)
		var ve *usecase.ValidationError
		switch {
		case a.Status == http.StatusTooManyRequests:
			v.Error = p.t(c, "acct.error.too_many_attempts", "Seconds", strconv.Itoa(a.RetryAfter))
		case errors.As(err, &ve) && ve.Field == "current_password":
			v.Fields["email_password"] = p.say(c, ve.Message)
		case errors.As(err, &ve):
			v.Fields["new_email"] = p.say(c, ve.Message)
		default:
			return err
		}
		return p.renderAnswer(c, a, "account", v)
	}
	p.log.InfoContext(ctx, "email change requested", "user_id", s.UserID, "remote", c.RealIP())
	v.NewEmail = ""
	v.Notice = p.t(c, "acct.notice.email_link_sent", "Email", email, "Within", p.accounts.LinkLifetimeIn(p.lang(c)))
	return p.render(c, http.StatusOK, "account", v)
}

// confirmEmailGet serves GET /confirm-email?token=T: the link mailed to a new address
// shows a button, and changes nothing by itself. In a browser signed in as another
// user than the link's, it is the bad-link page.
func (p *Pages) confirmEmailGet(c echo.Context) error {
	s, err := p.session(c)
	if err != nil {
		return err
	}
	token := c.QueryParam(tokenField)
	if err := p.accounts.CheckEmailChangeLink(c.Request().Context(), token, sessionUser(s)); err != nil {
		if errors.Is(err, usecase.ErrBadLink) {
			return p.badLink(c, "/account")
		}
		return err
	}
	return p.render(c, http.StatusOK, "confirm_email", p.linkForm(c, s, p.t(c, "confirm.title"), token))
}

// sessionUser is the user id of s, or "" when there is no session.
func sessionUser(s *domain.Session) string {
	if s == nil {
		return ""
	}
	return s.UserID
}

// confirmEmailPost serves POST /confirm-email: the account's email becomes the new
// address, verified; the old address is told by mail.
func (p *Pages) confirmEmailPost(c echo.Context) error {
	f, s, err := p.checkedForm(c)
	if err != nil {
		return err
	}
	email, err := p.accounts.ConfirmEmailChange(usecase.WithLocale(c.Request().Context(), p.lang(c)), f.get(tokenField), sessionUser(s))
	if err != nil {
		if errors.Is(err, usecase.ErrBadLink) {
			return p.badLink(c, "/account")
		}
		return err
	}
	p.log.InfoContext(c.Request().Context(), "email changed", "remote", c.RealIP())
	c.Set(langTargetKey, "/account")
	return p.render(c, http.StatusOK, "notice", view{Title: p.t(c, "acct.notice.email_changed_title"),
		Notice: p.t(c, "acct.notice.email_changed", "Email", email), Link: "/account", LinkLabel: p.t(c, "home.account")})
}

// accountAppsRevoke serves POST /account/apps/revoke: input client_id. The user's
// consent to that client goes and every token it holds for the user is revoked; its
// next authorization asks for consent again.
func (p *Pages) accountAppsRevoke(c echo.Context, f form, s *domain.Session) error {
	ctx := c.Request().Context()
	name, err := p.apps.Revoke(ctx, s.UserID, f.get("client_id"))
	notice := p.t(c, "acct.notice.app_revoked", "Name", name)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		notice = p.t(c, "acct.notice.app_no_access")
	case err != nil:
		return err
	default:
		p.log.InfoContext(ctx, "connected app revoked", "user_id", s.UserID, "client_id", f.get("client_id"), "remote", c.RealIP())
	}
	return p.accountNotice(c, s, notice)
}

// accountProfilePost serves POST /account/profile: inputs name, given_name,
// family_name, picture, locale, zoneinfo and phone_number, the claims of the profile
// and phone scopes; an empty input clears its claim.
func (p *Pages) accountProfilePost(c echo.Context, f form, s *domain.Session) error {
	v, err := p.accountView(c, s)
	if err != nil {
		return err
	}
	v.Profile = domain.Profile{Name: f.get("name"), GivenName: f.get("given_name"), FamilyName: f.get("family_name"),
		Picture: f.get("picture"), Locale: f.get("locale"), Zoneinfo: f.get("zoneinfo"), PhoneNumber: f.get("phone_number")}
	ctx := c.Request().Context()
	if _, err := p.accounts.UpdateProfile(ctx, s.UserID, v.Profile); err != nil {
		var ve *usecase.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		for _, e := range ve.All() {
			v.Fields[e.Field] = p.say(c, e.Message)
		}
		return p.render(c, http.StatusBadRequest, "account", v)
	}
	p.log.InfoContext(ctx, "profile changed", "user_id", s.UserID, "remote", c.RealIP())
	return p.accountNotice(c, s, p.t(c, "acct.notice.profile_saved"))
}
