package domain

import "time"

// AuditEvent is one line of the audit log (SPEC "Admin API, console and audit log"):
// who did what, when, from where. It never holds a secret, password, token, code,
// link or email address (SECURITY S56): Target is an id, and Details names what
// changed (field names), never a value that could be one of those.
type AuditEvent struct {
	ID   string
	Time time.Time
	// Type is dotted: user.login.failed, client.updated (the AuditXxx constants).
	Type string
	// Actor is who did it: a user id, a client id, or "cli".
	Actor string
	// Target is what it was done to: a user, client or session id, a key id.
	Target string
	// IP is the address the request came from; empty from the CLI.
	IP string
	// Reason says why a failure failed (AuditReasonXxx); empty otherwise.
	Reason string
	// Details: for a change the names of the fields it changed ("fields"), and other
	// non-secret facts (a client id, an alg).
	Details map[string]any
	// User is the user whose account the event concerns when neither Actor nor
	// Target names them (an administrator ending their session or revoking their
	// consent; Details has it as "user" too): the user filter finds it.
	User string
}

// Audit event types.
const (
	AuditUserCreated         = "user.created"
	AuditUserUpdated         = "user.updated"
	AuditUserDeleted         = "user.deleted"
	AuditUserLoginSucceeded  = "user.login.succeeded"
	AuditUserLoginFailed     = "user.login.failed"
	AuditUserLogout          = "user.logout"
	AuditUserRegistered      = "user.registered"
	AuditUserEmailVerified   = "user.email.verified"
	AuditUserEmailChanged    = "user.email.changed"
	AuditUserPasswordChanged = "user.password.changed"
	AuditUserPasswordReset   = "user.password.reset"
	// AuditUserPasswordResetSent: an administrator had a reset link mailed to a user
	// (the admin API's users/{id}/password-reset).
	AuditUserPasswordResetSent = "user.password.reset.sent"
	AuditUserProfileUpdated    = "user.profile.updated"
	AuditUserMFAEnrolled       = "user.mfa.enrolled"
	AuditUserMFARemoved        = "user.mfa.removed"
	AuditSessionRevoked        = "session.revoked"
	AuditConsentGranted        = "consent.granted"
	AuditConsentRevoked        = "consent.revoked"
	AuditClientCreated         = "client.created"
	AuditClientUpdated         = "client.updated"
	AuditClientDeleted         = "client.deleted"
	AuditClientSecretRotated   = "client.secret.rotated"
	AuditKeyRotated            = "key.rotated"
	AuditKeyRevoked            = "key.revoked"
	// Upstream identity providers (issue 22).
	AuditUpstreamCreated  = "upstream.created"
	AuditUpstreamUpdated  = "upstream.updated"
	AuditUpstreamDeleted  = "upstream.deleted"
	AuditIdentityLinked   = "user.identity.linked"
	AuditIdentityUnlinked = "user.identity.unlinked"
)

// AuditTypes are all the event types, in the order `audit list --type` names them.
// Every Audit… type constant above belongs here (TestAuditTypesListsEveryType).
var AuditTypes = []string{
	AuditUserCreated, AuditUserUpdated, AuditUserDeleted, AuditUserLoginSucceeded, AuditUserLoginFailed,
	AuditUserLogout, AuditUserRegistered, AuditUserEmailVerified, AuditUserEmailChanged, AuditUserPasswordChanged,
	AuditUserPasswordReset, AuditUserProfileUpdated, AuditUserMFAEnrolled, AuditUserMFARemoved, AuditSessionRevoked,
	AuditConsentGranted, AuditConsentRevoked, AuditClientCreated, AuditClientUpdated, AuditClientDeleted,
	AuditClientSecretRotated, AuditKeyRotated, AuditKeyRevoked, AuditUserPasswordResetSent,
	AuditUpstreamCreated, AuditUpstreamUpdated, AuditUpstreamDeleted, AuditIdentityLinked, AuditIdentityUnlinked,
	AuditResourceCreated, AuditResourceDeleted, AuditScopeCreated, AuditScopeDeleted, AuditClientRegistered,
}

// Reasons of failed sign-ins, for administrators only: the user sees one message.
const (
	AuditReasonUnknownUser   = "unknown_user"
	AuditReasonWrongPassword = "wrong_password"
	AuditReasonThrottled     = "throttled"
	AuditReasonDisabled      = "disabled"
	// AuditReasonSecondFactor: the right password, for a grant that cannot ask for
	// the user's second factor (the password grant).
	AuditReasonSecondFactor = "second_factor_required"
	// AuditReasonEmailUnverified: the right password in a password grant, for a user
	// whose address is not verified while GATEHOUSE_EMAIL_VERIFICATION=required.
	AuditReasonEmailUnverified = "email_unverified"
	// AuditReasonMFAFailed: a wrong, used or replayed authenticator or recovery code.
	AuditReasonMFAFailed = "mfa_failed"
	// AuditReasonUpstreamError: an upstream identity provider failed or answered
	// something that did not verify.
	AuditReasonUpstreamError = "upstream_error"
	// AuditReasonUpstreamEmailTaken: an upstream identity whose email belongs to an
	// account here, which is never linked by email alone.
	AuditReasonUpstreamEmailTaken = "upstream_email_taken"
)

// AuditActorCLI is the actor of what the command line did.
const AuditActorCLI = "cli"

// The reasons of a refused passkey (SECURITY S51).
const (
	// AuditReasonPasskeyFailed: an assertion that did not verify (signature,
	// challenge, origin, relying party id, user verification) or an unknown credential.
	AuditReasonPasskeyFailed = "passkey_failed"
	// AuditReasonPasskeyReplayed: a ceremony's challenge answered a second time.
	AuditReasonPasskeyReplayed = "passkey_replayed"
	// AuditReasonPasskeyWrongUser: a credential of another user than the one signing in.
	AuditReasonPasskeyWrongUser = "passkey_wrong_user"
	// AuditReasonPasskeyCounter: a signature counter that did not go up (WebAuthn L2
	// §7.2 step 17): the authenticator may have been cloned.
	AuditReasonPasskeyCounter = "passkey_counter_regression"
)

// Audit event types of protected resources and client registration.
const (
	AuditResourceCreated = "resource.created"
	AuditResourceDeleted = "resource.deleted"
	AuditScopeCreated    = "scope.created"
	AuditScopeDeleted    = "scope.deleted"
	// AuditClientRegistered: a client registered itself (RFC 7591 dynamic
	// registration, with or without an initial access token).
	AuditClientRegistered = "client.registered"
)
