package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Passkeys on the pages: "Sign in with a passkey" on the login page (and in the
// username field's autofill), the passkey on the second-factor page, and the
// "Passkeys" section of /account. Each page carries its ceremony (options and sealed
// state, usecase.PasskeyChallenge) in a form; /static/webauthn.js asks the browser
// and posts the answer in input credential, with the CSRF token, as any form.

const (
	credentialField    = "credential"
	webauthnStateField = "webauthn_state"
	msgBadPasskey      = "login.error.bad_passkey"
)

// passkeyView is one passkey as the account page lists it.
type passkeyView struct {
	ID, Name, Created, LastUsed string
	Synced, BackupEligible      bool
}

// layout is the page language's date and time form.
func passkeyViews(pks []domain.Passkey, layout string) []passkeyView {
	out := make([]passkeyView, len(pks))
	for i, k := range pks {
		out[i] = passkeyView{ID: k.ID, Name: k.Name, Created: k.CreatedAt.UTC().Format(layout),
			Synced: k.BackupState, BackupEligible: k.BackupEligible}
		if !k.LastUsedAt.IsZero() {
			out[i].LastUsed = k.LastUsedAt.UTC().Format(layout)
		}
	}
	return out
}

// sessionID is the id of s, "" when there is none: what a ceremony is bound to.
func sessionID(s *domain.Session) string {
	if s == nil {
		return ""
	}
	return s.ID
}

// withPasskeySignIn adds the login page's passwordless ceremony to v. A failure to
// make one leaves the page without it: the password still works.
func (p *Pages) withPasskeySignIn(c echo.Context, v *view, s *domain.Session, browser string) {
	ch, err := p.factors.BeginPasskeySignIn(browser, sessionID(s))
	if err != nil {
		p.log.WarnContext(c.Request().Context(), "no passkey sign-in on the login page", "err", err)
		return
	}
	v.Passkey = ch
}

// passkeyLoginPost serves POST /login/passkey: inputs credential and webauthn_state.
// The owner of the passkey is signed in (methods hwk, user, mfa; acr phr) and the
// sign-in continues as after a password.
func (p *Pages) passkeyLoginPost(c echo.Context) error {
	f, s, browser, id, pr, err := p.signInForm(c)
	if err != nil {
		return err
	}
	devicePath, deviceCode := deviceReturn(f.get(userCodeField))
	ctx := c.Request().Context()
	ns, secret, err := p.login.PasskeySignIn(ctx, browser, sessionID(s), f.get(webauthnStateField), f.get(credentialField), c.RealIP(), s)
	if err != nil {
		v := p.loginView(c, s, browser, pr)
		v.UserCode, v.PasskeyFailed = deviceCode, true
		a := Classify(err, SurfacePage)
		switch {
		case a.Status == http.StatusTooManyRequests:
			v.Error = p.t(c, "login.error.too_many", "Seconds", strconv.Itoa(a.RetryAfter))
		case errors.Is(err, usecase.ErrBadPasskey):
			v.Error = p.t(c, msgBadPasskey) + " " + p.t(c, "login.error.or_password")
			a = Answer{Status: http.StatusBadRequest}
		case errors.Is(err, domain.ErrUserDisabled):
			v.Error = p.t(c, msgDisabled)
		case errors.Is(err, domain.ErrInvalidGrant):
			v.Error = p.t(c, msgBadPasskey)
		default:
			return err
		}
		return p.renderAnswer(c, a, "login", v)
	}
	return p.continueSignedIn(c, ns, secret, "user logged in with a passkey", pr, id, browser, devicePath)
}

// mfaSubject is who the second-factor page is for: the user who passed the password
// in this browser (pending), or else the signed-in session stepping up.
func (p *Pages) mfaSubject(c echo.Context, s *domain.Session, browser string) (userID string, stepUp bool, err error) {
	if uid, err := p.factors.PendingUser(p.pendingMFA(c), browser); err == nil {
		return uid, false, nil
	}
	if s != nil {
		return s.UserID, true, nil
	}
	return "", false, usecase.ErrSecondFactorExpired
}

// withSecondFactors adds to the second-factor page what the user can give: the
// authenticator app, a passkey (its ceremony), or only a passkey when the request
// asks for the phishing-resistant level.
func (p *Pages) withSecondFactors(c echo.Context, v *view, s *domain.Session, browser string, pr *usecase.PendingRequest) error {
	userID, stepUp, err := p.mfaSubject(c, s, browser)
	if err != nil {
		return nil
	}
	ctx := c.Request().Context()
	if v.HasTOTP, err = p.factors.HasTOTP(ctx, userID); err != nil {
		return err
	}
	bound := ""
	if stepUp {
		bound = s.ID
	}
	if v.Passkey, err = p.factors.BeginPasskeySecondFactor(ctx, userID, browser, bound); err != nil {
		return err
	}
	v.PasskeyOnly = pr != nil && p.authorize.NeedsPasskey(*pr)
	return nil
}

// mfaPasskey is POST /login/mfa with a passkey (input credential): the pending
// sign-in completed, or the session stepped up.
func (p *Pages) mfaPasskey(c echo.Context, f form, s *domain.Session, browser string) (domain.Session, string, error) {
	ctx := c.Request().Context()
	state, cred := f.get(webauthnStateField), f.get(credentialField)
	if _, stepUp, err := p.mfaSubject(c, s, browser); err != nil {
		return domain.Session{}, "", err
	} else if stepUp {
		return p.login.StepUpPasskey(ctx, *s, browser, state, cred, c.RealIP(), p.knownFactorMark(c))
	}
	return p.login.CompleteSecondFactorPasskey(ctx, p.pendingMFA(c), browser, state, cred, c.RealIP(), p.knownFactorMark(c), s)
}

// passkeyForm shows the account page again with the error of a passkey form.
func (p *Pages) passkeyForm(c echo.Context, s *domain.Session, err error) error {
	return p.accountFormError(c, s, err, "passkey_password", true)
}

// passkeyAdd serves POST /account/passkeys: inputs passkey_name, credential,
// webauthn_state and, after 5 minutes, current_password. The passkey is stored.
func (p *Pages) passkeyAdd(c echo.Context, f form, s *domain.Session) error {
	ctx := c.Request().Context()
	pk, err := p.factors.AddPasskey(ctx, *s, p.browser(c), f.get(webauthnStateField), f.get(credentialField),
		f.get("passkey_name"), f.get("current_password"), c.RealIP())
	if err != nil {
		return p.passkeyForm(c, s, err)
	}
	p.log.InfoContext(ctx, "passkey added", "user_id", s.UserID, "passkey", pk.ID, "remote", c.RealIP())
	// Added inside a sign-in that asked for a second step: on to that step, where the
	// new passkey is used.
	if id := f.get(requestIDField); id != "" && cleanText(id) && len(id) <= 128 {
		return c.Redirect(http.StatusSeeOther, "/login/mfa?req="+url.QueryEscape(id))
	}
	if _, code := deviceReturn(f.get(userCodeField)); code != "" {
		return c.Redirect(http.StatusSeeOther, "/login/mfa?user_code="+url.QueryEscape(code))
	}
	// Added from the account page: the session now counts as one with a second
	// factor, so that it can add another passkey or remove this one.
	ns, secret, err := p.login.PasskeyEnrolled(ctx, *s)
	if err != nil {
		return err
	}
	if secret != "" {
		p.setSession(c, ns, secret)
	}
	return p.accountNotice(c, &ns, p.t(c, "passkey.notice.added", "Name", pk.Name))
}

// passkeyRemove serves POST /account/passkeys/remove: inputs passkey_id and, after 5
// minutes, current_password.
func (p *Pages) passkeyRemove(c echo.Context, f form, s *domain.Session) error {
	ctx := c.Request().Context()
	err := p.factors.RemovePasskey(ctx, *s, f.get("passkey_id"), f.get("current_password"), c.RealIP())
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return p.accountNotice(c, s, p.t(c, "passkey.notice.already_removed"))
	case err != nil:
		return p.passkeyForm(c, s, err)
	}
	p.log.InfoContext(ctx, "passkey removed", "user_id", s.UserID, "remote", c.RealIP())
	return p.accountNotice(c, s, p.t(c, "passkey.notice.removed"))
}
