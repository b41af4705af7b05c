package crypto

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// WebAuthn is usecase.WebAuthn over go-webauthn: the relying party id is the issuer's
// host and the only origin the issuer's (scheme, host and port), so an answer made
// for another site never verifies (WebAuthn L2 §7.1 steps 9, 13; §7.2 steps 13, 15).
// Attestation is not asked for ("none"): a passkey is trusted as the user's because
// the user added it while signed in, not because of its maker.
type WebAuthn struct {
	wa *webauthn.WebAuthn // nil when the issuer cannot be a relying party
}

var _ usecase.WebAuthn = (*WebAuthn)(nil)

var errNoRelyingParty = errors.New("passkeys need an issuer whose host is a domain name (localhost or a real one)")

// NewWebAuthn makes the relying party of settings.Issuer, named by the brand name (or
// "Gatehouse"). An issuer whose host is an IP address cannot be one (browsers
// refuse): passkeys are then off (Available false).
func NewWebAuthn(settings usecase.MFASettings) *WebAuthn {
	u, err := url.Parse(settings.Issuer)
	if err != nil || u.Hostname() == "" {
		return &WebAuthn{}
	}
	name := strings.TrimSpace(settings.Name) // GATEHOUSE_BRAND_NAME
	if name == "" {
		name = "Gatehouse"
	}
	wa, err := webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: name,
		RPOrigins: []string{u.Scheme + "://" + u.Host}})
	if err != nil {
		return &WebAuthn{}
	}
	return &WebAuthn{wa: wa}
}

// Available: see usecase.WebAuthn.
func (w *WebAuthn) Available() bool { return w.wa != nil }

// passkeyUser is a usecase.PasskeyUser as go-webauthn sees it; the user handle is the
// user id.
type passkeyUser struct{ u usecase.PasskeyUser }

func (p passkeyUser) WebAuthnID() []byte          { return []byte(p.u.ID) }
func (p passkeyUser) WebAuthnName() string        { return p.u.Name }
func (p passkeyUser) WebAuthnDisplayName() string { return p.u.DisplayName }
func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(p.u.Passkeys))
	for i, k := range p.u.Passkeys {
		out[i] = credential(k)
	}
	return out
}

func credential(k domain.Passkey) webauthn.Credential {
	ts := make([]protocol.AuthenticatorTransport, len(k.Transports))
	for i, t := range k.Transports {
		ts[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{ID: k.CredentialID, PublicKey: k.PublicKey, AttestationType: "none", Transport: ts,
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: k.UserVerified, BackupEligible: k.BackupEligible,
			BackupState: k.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount}}
}

func ceremony(options any, s *webauthn.SessionData) (usecase.WebAuthnCeremony, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return usecase.WebAuthnCeremony{}, fmt.Errorf("encode the options: %w", err)
	}
	st, err := json.Marshal(s)
	if err != nil {
		return usecase.WebAuthnCeremony{}, fmt.Errorf("encode the session: %w", err)
	}
	return usecase.WebAuthnCeremony{Options: o, State: st, Challenge: s.Challenge}, nil
}

func session(state []byte) (webauthn.SessionData, error) {
	var s webauthn.SessionData
	if err := json.Unmarshal(state, &s); err != nil {
		return s, fmt.Errorf("decode the ceremony: %w", err)
	}
	return s, nil
}

// BeginRegistration: see usecase.WebAuthn. A discoverable credential (it can sign in
// without a username), user verification required, the user's passkeys excluded.
func (w *WebAuthn) BeginRegistration(u usecase.PasskeyUser) (usecase.WebAuthnCeremony, error) {
	if w.wa == nil {
		return usecase.WebAuthnCeremony{}, errNoRelyingParty
	}
	pu := passkeyUser{u}
	var exclude []protocol.CredentialDescriptor
	for _, c := range pu.WebAuthnCredentials() {
		exclude = append(exclude, c.Descriptor())
	}
	required := true
	options, s, err := w.wa.BeginRegistration(pu,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{RequireResidentKey: &required,
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return usecase.WebAuthnCeremony{}, fmt.Errorf("begin registration: %w", err)
	}
	return ceremony(options, s)
}

// FinishRegistration: see usecase.WebAuthn.
func (w *WebAuthn) FinishRegistration(u usecase.PasskeyUser, state, response []byte) (domain.Passkey, error) {
	if w.wa == nil {
		return domain.Passkey{}, errNoRelyingParty
	}
	s, err := session(state)
	if err != nil {
		return domain.Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return domain.Passkey{}, fmt.Errorf("parse the registration: %w", describe(err))
	}
	c, err := w.wa.CreateCredential(passkeyUser{u}, s, parsed)
	if err != nil {
		return domain.Passkey{}, fmt.Errorf("verify the registration: %w", describe(err))
	}
	if err := boundedKey(c.PublicKey); err != nil {
		return domain.Passkey{}, fmt.Errorf("verify the registration: %w", err)
	}
	ts := make([]string, len(c.Transport))
	for i, t := range c.Transport {
		ts[i] = string(t)
	}
	return domain.Passkey{CredentialID: c.ID, PublicKey: c.PublicKey, SignCount: c.Authenticator.SignCount,
		AAGUID: c.Authenticator.AAGUID, Transports: ts, BackupEligible: c.Flags.BackupEligible,
		BackupState: c.Flags.BackupState, UserVerified: c.Flags.UserVerified}, nil
}

// boundedKey refuses a COSE public key whose verification would cost far more than an
// authenticator's keys do, an RSA modulus over domain.MaxRSAKeyBits (every sign-in
// with the passkey is verified with it), and one too short to be trusted, under
// domain.MinRSAKeyBits: Go's crypto/rsa refuses to verify with a key under 1024
// bits, so such a passkey, once stored, could never sign in, and as a second factor
// would lock its owner out.
func boundedKey(cose []byte) error {
	key, err := webauthncose.ParsePublicKey(cose)
	if err != nil {
		return fmt.Errorf("the passkey's public key: %w", err)
	}
	if k, ok := key.(webauthncose.RSAPublicKeyData); ok {
		bits := new(big.Int).SetBytes(k.Modulus).BitLen()
		if bits > domain.MaxRSAKeyBits || bits < domain.MinRSAKeyBits {
			return fmt.Errorf("an RSA passkey of %d bits; from %d to %d are accepted", bits, domain.MinRSAKeyBits, domain.MaxRSAKeyBits)
		}
	}
	return nil
}

// BeginLogin: see usecase.WebAuthn.
func (w *WebAuthn) BeginLogin(u *usecase.PasskeyUser, userVerification bool) (usecase.WebAuthnCeremony, error) {
	if w.wa == nil {
		return usecase.WebAuthnCeremony{}, errNoRelyingParty
	}
	uv := protocol.VerificationPreferred
	if userVerification {
		uv = protocol.VerificationRequired
	}
	var (
		options *protocol.CredentialAssertion
		s       *webauthn.SessionData
		err     error
	)
	if u == nil {
		options, s, err = w.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(uv))
	} else {
		options, s, err = w.wa.BeginLogin(passkeyUser{*u}, webauthn.WithUserVerification(uv))
	}
	if err != nil {
		return usecase.WebAuthnCeremony{}, fmt.Errorf("begin login: %w", err)
	}
	return ceremony(options, s)
}

// AssertionCredential: see usecase.WebAuthn.
func (w *WebAuthn) AssertionCredential(response []byte) ([]byte, []byte, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, nil, fmt.Errorf("parse the assertion: %w", describe(err))
	}
	return parsed.RawID, parsed.Response.UserHandle, nil
}

// FinishLogin: see usecase.WebAuthn. go-webauthn flags a counter that did not go up
// (CloneWarning) and goes on; usecase refuses it.
func (w *WebAuthn) FinishLogin(u usecase.PasskeyUser, state, response []byte) (usecase.PasskeyAssertion, error) {
	if w.wa == nil {
		return usecase.PasskeyAssertion{}, errNoRelyingParty
	}
	s, err := session(state)
	if err != nil {
		return usecase.PasskeyAssertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return usecase.PasskeyAssertion{}, fmt.Errorf("parse the assertion: %w", describe(err))
	}
	pu := passkeyUser{u}
	var c *webauthn.Credential
	if len(s.UserID) == 0 {
		_, c, err = w.wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return pu, nil }, s, parsed)
	} else {
		c, err = w.wa.ValidateLogin(pu, s, parsed)
	}
	if err != nil {
		return usecase.PasskeyAssertion{}, fmt.Errorf("verify the assertion: %w", describe(err))
	}
	flags := parsed.Response.AuthenticatorData.Flags
	return usecase.PasskeyAssertion{CredentialID: c.ID, SignCount: parsed.Response.AuthenticatorData.Counter,
		BackupState: flags.HasBackupState(), UserVerified: flags.HasUserVerified(),
		CounterRegressed: c.Authenticator.CloneWarning}, nil
}

// describe adds go-webauthn's details to its error (for the log only).
func describe(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" && !strings.Contains(err.Error(), pe.DevInfo) {
		return fmt.Errorf("%w (%s)", err, pe.DevInfo)
	}
	return err
}
