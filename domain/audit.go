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
)

// AuditTypes are all the event types, in the order `audit list --type` names them.
// Every Audit… type constant above belongs here (TestAuditTypesListsEveryType).
var AuditTypes = []string{
	AuditUserCreated, AuditUserUpdated, AuditUserDeleted, AuditUserLoginSucceeded, AuditUserLoginFailed,
	AuditUserLogout, AuditUserRegistered, AuditUserEmailVerified, AuditUserEmailChanged, AuditUserPasswordChanged,
	AuditUserPasswordReset, AuditUserProfileUpdated, AuditUserMFAEnrolled, AuditUserMFARemoved, AuditSessionRevoked,
	AuditConsentGranted, AuditConsentRevoked, AuditClientCreated, AuditClientUpdated, AuditClientDeleted,
	AuditClientSecretRotated, AuditKeyRotated, AuditKeyRevoked, AuditUserPasswordResetSent,
	AuditResourceCreated, AuditResourceDeleted, AuditClientRegistered,
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
	// AuditReasonMFAFailed: a wrong, used or replayed authenticator or recovery code.
	AuditReasonMFAFailed = "mfa_failed"
)

// AuditActorCLI is the actor of what the command line did.
const AuditActorCLI = "cli"

// Audit event types of protected resources and client registration.
const (
	AuditResourceCreated = "resource.created"
	AuditResourceDeleted = "resource.deleted"
	// AuditClientRegistered: a client registered itself (RFC 7591 dynamic
	// registration, with or without an initial access token).
	AuditClientRegistered = "client.registered"
)
