package domain

// The admin API's names (SPEC "Admin API, console and audit log", SECURITY S55).
const (
	// ScopeAdmin is the scope every admin API call needs. No client gets it unless an
	// administrator registers it with it (clients create --scope); dynamic
	// registration never grants it.
	ScopeAdmin = "gatehouse:admin"
	// GroupAdmin is the group a user must be in, at the time of each call, for a token
	// issued to them to reach the admin API.
	GroupAdmin = "admin"
	// AdminAPIAudiencePath is appended to the issuer to make the admin API's audience
	// (the RFC 8707 resource a client asks for): <issuer>/admin/api.
	AdminAPIAudiencePath = "/admin/api"
)
