package httpapi

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"
	qrcode "github.com/skip2/go-qrcode"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// The second factor: the page after the password for a user who has one
// (/login/mfa), and the authenticator app's enrolment and removal on /account.
//
// Between the password and the factor the browser holds only a sealed, short-lived
// state bound to its browser cookie (the mfa cookie): no session, no code, no token
// (SECURITY S50).

const msgBadCode = "mfa.error.bad_code" // a key of the catalogs

// toSecondFactor follows a right password of a user with a second factor: the
// pending state in its cookie, and the second-factor page.
func (p *Pages) toSecondFactor(c echo.Context, sf *usecase.SecondFactorRequired, browser, reqID, userCode string) error {
	pending, err := p.factors.BeginSecondFactor(sf.UserID, browser, sf.AMR, sf.Credential)
	if err != nil {
		return err
	}
	c.SetCookie(p.cookies.cookie(p.cookies.mfa, pending))
	q := url.Values{}
	if reqID != "" {
		q.Set(requestIDField, reqID)
	}
	if userCode != "" {
		q.Set(userCodeField, userCode)
	}
	target := "/login/mfa"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// pendingMFA reads the mfa cookie (sealed, so no fixed length).
func (p *Pages) pendingMFA(c echo.Context) string {
	ck, err := c.Cookie(p.cookies.mfa)
	if err != nil || len(ck.Value) > 1024 {
		return ""
	}
	return ck.Value
}

func (p *Pages) clearMFA(c echo.Context) {
	ck := p.cookies.cookie(p.cookies.mfa, "")
	ck.MaxAge = -1
	c.SetCookie(ck)
}

// mfaExpired is the page for a second-factor step that is not alive in this browser.
func (p *Pages) mfaExpired(c echo.Context, reqID string) error {
	p.clearMFA(c)
	link := "/login"
	if reqID != "" {
		link += "?req=" + url.QueryEscape(reqID)
	}
	return p.render(c, http.StatusBadRequest, "notice", view{Title: p.t(c, "mfa.expired_title"),
		Error: p.t(c, "mfa.expired"),
		Link:  link, LinkLabel: p.t(c, "login.submit")})
}

// mfaView is the second-factor page.
func (p *Pages) mfaView(c echo.Context, s *domain.Session, browser string, pr *usecase.PendingRequest, userCode string) view {
	v := p.signInView(c, p.t(c, "mfa.title"), s, browser, pr)
	v.UserCode = userCode
	return v
}

// mfaGet serves GET /login/mfa: the form, only for the browser that passed the
// password, for SecondFactorTTL. A signed-in browser whose session lacks the second
// factor (GATEHOUSE_MFA=required) gets the form too, to step up, or the enrolment of
// an authenticator app when the user has none.
func (p *Pages) mfaGet(c echo.Context) error {
	s, err := p.session(c)
	if err != nil {
		return err
	}
	browser := p.ensureBrowser(c)
	id := c.QueryParam(requestIDField)
	_, pendingErr := p.factors.PendingUser(p.pendingMFA(c), browser)
	if pendingErr != nil && s == nil {
		return p.mfaExpired(c, id)
	}
	pr, err := p.pendingFor(c, id, browser)
	if err != nil {
		return err
	}
	_, userCode := deviceReturn(c.QueryParam(userCodeField))
	v := p.mfaView(c, s, browser, pr, userCode)
	if pendingErr != nil {
		// Step-up of the signed-in session, unless it reached the level asked for.
		if s.HasMFA() && (pr == nil || p.authorize.ReachedLevel(*pr, *s)) {
			if pr != nil {
				step, err := p.authorize.Resume(c.Request().Context(), id, browser, s)
				return p.follow(c, step, err)
			}
			if path, _ := deviceReturn(c.QueryParam(userCodeField)); path != "" {
				return c.Redirect(http.StatusFound, path)
			}
			return c.Redirect(http.StatusFound, "/")
		}
		has, err := p.factors.Has(c.Request().Context(), s.UserID)
		if err != nil {
			return err
		}
		if !has {
			v.Fresh = p.factors.Fresh(*s)
			u, err := p.login.UserOf(c.Request().Context(), *s)
			if err != nil {
				return err
			}
			v.SignedInAs = u.Username
			// Or a passkey: added, it is then used on this page (the step-up).
			if v.Passkey, err = p.factors.BeginPasskeyRegistration(c.Request().Context(), *s, browser); err != nil {
				return err
			}
			return p.render(c, http.StatusOK, "mfa_enrol", v)
		}
	}
	if err := p.withSecondFactors(c, &v, s, browser, pr); err != nil {
		return err
	}
	return p.render(c, http.StatusOK, "mfa", v)
}

// mfaPost serves POST /login/mfa: input otp (an authenticator code) or recovery_code.
// A right one starts the session and continues as a login does.
func (p *Pages) mfaPost(c echo.Context) error {
	f, s, browser, id, pr, err := p.signInForm(c)
	if err != nil {
		return err
	}
	devicePath, userCode := deviceReturn(f.get(userCodeField))
	v := p.mfaView(c, s, browser, pr, userCode)
	otp, recovery := f.get("otp"), f.get("recovery_code")
	passkey := f.get(credentialField) != "" || f.get(webauthnStateField) != ""
	if otp == "" && recovery == "" && !passkey {
		if err := p.withSecondFactors(c, &v, s, browser, pr); err != nil {
			return err
		}
		v.Fields["otp"] = p.t(c, "mfa.error.enter_code")
		return p.render(c, http.StatusBadRequest, "mfa", v)
	}
	ctx := c.Request().Context()
	var ns domain.Session
	var secret string
	if passkey {
		ns, secret, err = p.mfaPasskey(c, f, s, browser)
	} else if _, perr := p.factors.PendingUser(p.pendingMFA(c), browser); perr != nil && s != nil {
		ns, secret, err = p.login.StepUp(ctx, *s, otp, recovery, c.RealIP(), p.knownFactorMark(c))
	} else {
		ns, secret, err = p.login.CompleteSecondFactor(ctx, p.pendingMFA(c), browser, otp, recovery, c.RealIP(), p.knownFactorMark(c), s)
	}
	if err != nil {
		a := Classify(err, SurfacePage)
		field := "otp"
		if otp == "" {
			field = "recovery_code"
		}
		switch {
		case errors.Is(err, usecase.ErrSecondFactorExpired):
			return p.mfaExpired(c, id)
		case a.Status == http.StatusTooManyRequests:
			v.Error = p.t(c, "mfa.error.too_many", "Seconds", strconv.Itoa(a.RetryAfter))
		case errors.Is(err, usecase.ErrBadSecondFactor):
			v.Fields[field] = p.t(c, msgBadCode)
			a = Answer{Status: http.StatusBadRequest}
		case errors.Is(err, usecase.ErrBadPasskey):
			v.Error = p.t(c, msgBadPasskey)
			a = Answer{Status: http.StatusBadRequest}
		case errors.Is(err, domain.ErrUserDisabled):
			v.Error = p.t(c, msgDisabled)
		case errors.Is(err, domain.ErrInvalidGrant):
			return p.mfaExpired(c, id) // the user was deleted meanwhile
		default:
			return err
		}
		if err := p.withSecondFactors(c, &v, s, browser, pr); err != nil {
			return err
		}
		return p.renderAnswer(c, a, "mfa", v)
	}
	p.clearMFA(c)
	p.markFactorKnown(c, ns.UserID)
	return p.continueSignedIn(c, ns, secret, "user logged in with a second factor", pr, id, browser, devicePath)
}

// factorForm shows the account page again with the error of an authenticator-app form.
func (p *Pages) factorForm(c echo.Context, s *domain.Session, err error) error {
	return p.accountFormError(c, s, err, "totp_password", false)
}

// accountFormError shows the account page again with the error of a second-factor
// form: throttling and messages without a field at the top, a wrong current password
// next to that form's password input (passwordField), and, when inline, a message
// about another input next to it.
func (p *Pages) accountFormError(c echo.Context, s *domain.Session, err error, passwordField string, inline bool) error {
	v, verr := p.accountView(c, s)
	if verr != nil {
		return verr
	}
	a := Classify(err, SurfacePage)
	var ve *usecase.ValidationError
	switch {
	case a.Status == http.StatusTooManyRequests:
		v.Error = p.t(c, "acct.error.too_many_passwords", "Seconds", strconv.Itoa(a.RetryAfter))
	case errors.As(err, &ve) && ve.Field == "current_password":
		v.Fields[passwordField] = p.say(c, ve.Message)
		a.Status = http.StatusBadRequest
	case errors.As(err, &ve) && inline && ve.Field != "":
		v.Fields[ve.Field] = p.say(c, ve.Message)
		a.Status = http.StatusBadRequest
	case errors.As(err, &ve):
		v.Error = p.say(c, ve.Message)
		a.Status = http.StatusBadRequest
	default:
		return err
	}
	return p.renderAnswer(c, a, "account", v)
}

// totpBegin serves POST /account/totp: after a fresh sign-in or the password (input
// current_password), the enrolment page with the QR code and the secret.
func (p *Pages) totpBegin(c echo.Context, f form, s *domain.Session) error {
	e, err := p.factors.BeginTOTP(c.Request().Context(), *s, f.get("current_password"), c.RealIP())
	if err != nil {
		return p.factorForm(c, s, err)
	}
	return p.totpSetup(c, s, e, f, "", http.StatusOK)
}

// totpSetup renders the enrolment page of e, with an error next to the code.
func (p *Pages) totpSetup(c echo.Context, s *domain.Session, e usecase.TOTPEnrolment, f form, codeErr string, status int) error {
	png, err := qrcode.Encode(e.URI, qrcode.Medium, 240)
	if err != nil {
		return err
	}
	v := view{Title: p.t(c, "acct.setup_totp"), CSRF: p.csrfToken(csrfBinding(s, p.ensureBrowser(c))), Fields: map[string]string{},
		Token: e.Token, Secret: e.Secret, OTPURI: e.URI,
		// A data: URI the server drew: no request leaves the page for the QR code.
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))} //nolint:gosec // our own PNG
	// The sign-in (or device approval) that asked for the factor, to go back to.
	if reqID := f.get(requestIDField); reqID != "" && cleanText(reqID) && len(reqID) <= 128 {
		v.RequestID = reqID
	}
	_, v.UserCode = deviceReturn(f.get(userCodeField))
	if codeErr != "" {
		v.Fields["otp"] = codeErr
	}
	return p.render(c, status, "totp_setup", v)
}

// totpConfirm serves POST /account/totp/confirm: inputs token and otp. A right code
// turns the app on and shows the recovery codes, once.
func (p *Pages) totpConfirm(c echo.Context, f form, s *domain.Session) error {
	ctx := c.Request().Context()
	token := f.get(tokenField)
	e, err := p.factors.Enrolment(*s, token)
	if err != nil {
		return p.factorForm(c, s, err)
	}
	codes, err := p.factors.ConfirmTOTP(ctx, *s, token, f.get("otp"))
	if err != nil {
		a := Classify(err, SurfacePage)
		var ve *usecase.ValidationError
		switch {
		case a.Status == http.StatusTooManyRequests:
			setAnswerHeaders(c, a)
			return p.totpSetup(c, s, e, f, p.t(c, "mfa.error.too_many", "Seconds", strconv.Itoa(a.RetryAfter)), a.Status)
		case errors.As(err, &ve) && ve.Field == "otp":
			return p.totpSetup(c, s, e, f, p.say(c, ve.Message), http.StatusBadRequest)
		}
		return p.factorForm(c, s, err)
	}
	p.log.InfoContext(ctx, "authenticator app enrolled", "user_id", s.UserID, "remote", c.RealIP())
	// The code just given proves the factor: the session now counts as signed in with it.
	if ns, secret, err := p.login.FactorEnrolled(ctx, *s); err != nil {
		return err
	} else if secret != "" {
		p.setSession(c, ns, secret)
	}
	v := view{Title: p.t(c, "recovery.title"), RecoveryCodes: codes, Link: "/account", LinkLabel: p.t(c, "recovery.saved")}
	if id := f.get(requestIDField); id != "" && cleanText(id) && len(id) <= 128 {
		// Back into the sign-in that asked for the factor: the login page resumes it.
		v.Link, v.LinkLabel = "/login?req="+url.QueryEscape(id), p.t(c, "recovery.saved_continue")
	} else if path, _ := deviceReturn(f.get(userCodeField)); path != "" {
		v.Link, v.LinkLabel = path, p.t(c, "recovery.saved_continue")
	}
	return p.render(c, http.StatusOK, "recovery_codes", v)
}

// totpRemove serves POST /account/totp/remove: after a fresh sign-in or the password,
// the app and the recovery codes are removed.
func (p *Pages) totpRemove(c echo.Context, f form, s *domain.Session) error {
	ctx := c.Request().Context()
	err := p.factors.RemoveTOTP(ctx, *s, f.get("current_password"), c.RealIP())
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return p.accountNotice(c, s, p.t(c, "totp.notice.none"))
	case err != nil:
		return p.factorForm(c, s, err)
	}
	p.log.InfoContext(ctx, "authenticator app removed", "user_id", s.UserID, "remote", c.RealIP())
	if pks, err := p.factors.Passkeys(ctx, s.UserID); err != nil {
		return err
	} else if len(pks) > 0 {
		return p.accountNotice(c, s, p.t(c, "totp.notice.removed_passkeys"))
	}
	return p.accountNotice(c, s, p.t(c, "totp.notice.removed"))
}
