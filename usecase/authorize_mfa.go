package usecase

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/domain"
)

// requiredACRLevel is the level (domain.ACRLevel) a sign-in must reach for req of
// client: a second factor under GATEHOUSE_MFA=required or for a client registered
// with --require-mfa, and whatever the request asks by acr_values or an essential acr
// claim.
func (uc *Authorize) requiredACRLevel(req domain.AuthRequest, client domain.Client) int {
	level := req.Claims.RequiredACRLevel()
	if (uc.settings.RequireMFA || client.RequireMFA) && level < domain.ACRLevel(domain.ACRMFA) {
		level = domain.ACRLevel(domain.ACRMFA)
	}
	return level
}

// secondFactorStep is next's check that the session reached the level the request
// needs (SECURITY S53): when it has not, the second-factor page (which steps the
// session up, or enrols a factor) and ok; a level no factor here can reach yet (a
// phishing-resistant one) is access_denied, never an answer with less.
func (uc *Authorize) secondFactorStep(ctx context.Context, req domain.AuthRequest, client domain.Client, s *domain.Session,
	stored bool) (Step, bool, error) {
	if uc.reached(req, client, *s) {
		return Step{}, false, nil
	}
	if uc.requiredACRLevel(req, client) > domain.ACRLevel(domain.ACRMFA) {
		// Only a passkey reaches it: a user without one cannot (no other factor will do).
		var pks []domain.Passkey
		if uc.passkeys != nil {
			var err error
			if pks, err = uc.passkeys.PasskeysOf(ctx, s.UserID); err != nil {
				return Step{}, true, fmt.Errorf("list the user's passkeys: %w", err)
			}
		}
		if len(pks) == 0 {
			return Step{}, true, redirectError(req.RedirectURI, req.State, domain.ErrAccessDenied.WithDescription(
				"the application asks for a phishing-resistant sign-in (a passkey), and this account has no passkey"))
		}
	}
	step, err := uc.page(ctx, req, StepSecondFactor, stored,
		domain.ErrInteractionRequired.WithDescription("the user must sign in with a second factor"))
	return step, true, err
}

// NeedsPasskey reports whether the pending request id of browser asks for the
// phishing-resistant level, which only a passkey reaches.
func (uc *Authorize) NeedsPasskey(pr PendingRequest) bool {
	return uc.requiredACRLevel(pr.Request, pr.Client) > domain.ACRLevel(domain.ACRMFA)
}

// ReachedLevel reports whether session s reached the level the pending request needs.
func (uc *Authorize) ReachedLevel(pr PendingRequest, s domain.Session) bool {
	return uc.reached(pr.Request, pr.Client, s)
}

// reached reports whether session s reached the level req of client needs.
func (uc *Authorize) reached(req domain.AuthRequest, client domain.Client, s domain.Session) bool {
	return uc.requiredACRLevel(req, client) <= domain.ACRLevel(domain.SessionACR(s.AMR))
}

// sessionAMR are the methods of s for its tokens: a session from before they were
// recorded signed in with the password.
func sessionAMR(s domain.Session) []string {
	if len(s.AMR) == 0 {
		return AMRPassword
	}
	return s.AMR
}

// ErrDeviceNeedsVerifiedEmail: the user must verify their email address before they
// approve a device (GATEHOUSE_EMAIL_VERIFICATION=required). The device page sends
// the user to "verify your email". Not a *domain.Error: errors.Is would then take it
// for ErrDeviceNeedsSecondFactor, which has the same code.
var ErrDeviceNeedsVerifiedEmail = errors.New("verify your email address to approve this device")

// ErrDeviceNeedsSecondFactor: the session must step up before it approves a device.
var ErrDeviceNeedsSecondFactor = domain.ErrInteractionRequired.WithDescription("sign in with a second factor to approve this device")

// NeedsSecondFactor reports whether session s must give a second factor before it
// approves a device of client c (GATEHOUSE_MFA=required, --require-mfa).
func (uc *Device) NeedsSecondFactor(s domain.Session, c domain.Client) bool {
	return (uc.settings.RequireMFA || c.RequireMFA) && !s.HasMFA()
}
