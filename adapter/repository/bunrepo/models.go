package bunrepo

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Row models: the only place with struct tags (domain types carry none). Each has a
// from/to pair converting to the domain type. Column types come from schema.go; the
// tags only name columns and say which zero values are stored as NULL (nullzero).

type userRow struct {
	bun.BaseModel `bun:"table:users"`

	ID            string    `bun:"id,pk"`
	Username      string    `bun:"username"`
	Email         string    `bun:"email,nullzero"`
	EmailVerified bool      `bun:"email_verified"`
	PasswordHash  string    `bun:"password_hash"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
	// Disabled came with migration 20260311000001: NULL (older rows) reads as false.
	Disabled bool `bun:"disabled,nullzero"`
	// The profile and groups came with migration 20260317000001: NULL reads as unset.
	Name                string `bun:"name,nullzero"`
	GivenName           string `bun:"given_name,nullzero"`
	FamilyName          string `bun:"family_name,nullzero"`
	Picture             string `bun:"picture,nullzero"`
	Locale              string `bun:"locale,nullzero"`
	Zoneinfo            string `bun:"zoneinfo,nullzero"`
	PhoneNumber         string `bun:"phone_number,nullzero"`
	PhoneNumberVerified bool   `bun:"phone_number_verified,nullzero"`
	// GroupNames is a JSON array (encodeList); NULL when the user is in no group.
	GroupNames string `bun:"group_names,nullzero"`
	// ClaimedEmail came with migration 20261207000001 (userClaimedEmail).
	ClaimedEmail string `bun:"claimed_email,nullzero"`
	// UsernameSkeleton came with migration 20261207000002 (skeletons.go): set from
	// Username on insert, never read into the domain.
	UsernameSkeleton []byte `bun:"username_skeleton,nullzero"`
}

// userColumns are the columns of userRow read through a join as u (u.id AS u_id, …),
// for the queries that read a user with a code or a refresh token (embed:u_).
const userColumns = "u.id AS u_id, u.username AS u_username, u.email AS u_email, " +
	"u.email_verified AS u_email_verified, u.password_hash AS u_password_hash, u.created_at AS u_created_at, " +
	"u.updated_at AS u_updated_at, u.disabled AS u_disabled, u.name AS u_name, u.given_name AS u_given_name, " +
	"u.family_name AS u_family_name, u.picture AS u_picture, u.locale AS u_locale, u.zoneinfo AS u_zoneinfo, " +
	"u.phone_number AS u_phone_number, u.phone_number_verified AS u_phone_number_verified, " +
	"u.group_names AS u_group_names, u.claimed_email AS u_claimed_email"

// userUpdateColumns are what UpdateUser replaces: all but the id, username, password
// hash and creation time.
var userUpdateColumns = []string{"email", "email_verified", "disabled", "updated_at", "name", "given_name",
	"family_name", "picture", "locale", "zoneinfo", "phone_number", "phone_number_verified", "group_names", "claimed_email"}

func userToRow(u domain.User) userRow {
	r := userRow{
		ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified,
		PasswordHash: u.PasswordHash, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Disabled: u.Disabled,
		Name: u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName, Picture: u.Picture, Locale: u.Locale,
		Zoneinfo: u.Zoneinfo, PhoneNumber: u.PhoneNumber, PhoneNumberVerified: u.PhoneNumberVerified,
		ClaimedEmail: u.ClaimedEmail, UsernameSkeleton: UsernameSkeleton(u.Username),
	}
	if len(u.Groups) > 0 {
		r.GroupNames = encodeList(u.Groups)
	}
	return r
}

func (r userRow) toDomain() (domain.User, error) {
	u := domain.User{
		ID: r.ID, Username: r.Username, Email: r.Email, EmailVerified: r.EmailVerified,
		PasswordHash: r.PasswordHash, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt), Disabled: r.Disabled,
		Profile: domain.Profile{Name: r.Name, GivenName: r.GivenName, FamilyName: r.FamilyName, Picture: r.Picture,
			Locale: r.Locale, Zoneinfo: r.Zoneinfo, PhoneNumber: r.PhoneNumber},
		PhoneNumberVerified: r.PhoneNumberVerified, ClaimedEmail: r.ClaimedEmail,
	}
	groups, err := decodeList(r.GroupNames)
	if err != nil {
		return domain.User{}, fmt.Errorf("user %q group_names: %w", r.ID, err)
	}
	u.Groups = groups
	return u, nil
}

type clientRow struct {
	bun.BaseModel `bun:"table:clients"`

	ID           string    `bun:"id,pk"`
	Name         string    `bun:"name"`
	SecretHash   []byte    `bun:"secret_hash,nullzero"`
	Public       bool      `bun:"public"`
	RedirectURIs string    `bun:"redirect_uris"`
	GrantTypes   string    `bun:"grant_types"`
	Scopes       string    `bun:"scopes"`
	Audiences    string    `bun:"audiences"`
	SkipConsent  bool      `bun:"skip_consent"`
	IDTokenAlg   string    `bun:"id_token_alg"`
	CreatedAt    time.Time `bun:"created_at"`
	UpdatedAt    time.Time `bun:"updated_at"`
	// PostLogoutRedirectURIs came with a later migration: NULL in rows older than it,
	// read as an empty list.
	PostLogoutRedirectURIs string `bun:"post_logout_redirect_uris,nullzero"`

	// Columns of migrations 20260309000001 and …02 (PAR, dynamic registration): NULL
	// in older rows, read as false and no token.
	RequirePAR            bool   `bun:"require_par,nullzero"`
	RegistrationTokenHash []byte `bun:"registration_token_hash,nullzero"`
	// RequireDPoP came with migration 20260308000001: NULL (older rows) reads as false.
	RequireDPoP bool `bun:"require_dpop,nullzero"`
	// These came with migration 20260308000002; NULL reads as empty.
	TokenEndpointAuthMethod string `bun:"token_endpoint_auth_method,nullzero"`
	JWKS                    string `bun:"jwks,nullzero"`
	JWKSURI                 string `bun:"jwks_uri,nullzero"`
	// Disabled came with migration 20260311000001: NULL reads as false.
	Disabled bool `bun:"disabled,nullzero"`
	// PKCEOptional came with migration 20260313000002: NULL (older rows) reads as
	// false, PKCE required.
	PKCEOptional bool `bun:"pkce_optional,nullzero"`
	// BackchannelLogoutURI came with migration 20260315000001: NULL reads as none.
	BackchannelLogoutURI string `bun:"backchannel_logout_uri,nullzero"`
	// RequireMFA came with migration 20260318000021: NULL reads as false.
	RequireMFA bool `bun:"require_mfa,nullzero"`
	// UnusedExpiresAt came with migration 20260404000002: NULL (every client but one
	// of open dynamic registration not used yet) keeps the client.
	UnusedExpiresAt time.Time `bun:"unused_expires_at,nullzero"`
}

func clientToRow(c domain.Client) clientRow {
	return clientRow{
		ID: c.ID, Name: c.Name, SecretHash: emptyToNil(c.SecretHash), Public: c.Public,
		RedirectURIs: encodeList(c.RedirectURIs), GrantTypes: encodeList(c.GrantTypes),
		Scopes: encodeList(c.Scopes), Audiences: encodeList(c.Audiences),
		SkipConsent: c.SkipConsent, IDTokenAlg: c.IDTokenAlg,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		PostLogoutRedirectURIs: encodeList(c.PostLogoutRedirectURIs),
		RequirePAR:             c.RequirePAR, RegistrationTokenHash: emptyToNil(c.RegistrationTokenHash),
		RequireDPoP: c.RequireDPoP, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		JWKS: c.JWKS, JWKSURI: c.JWKSURI, Disabled: c.Disabled, PKCEOptional: c.PKCEOptional,
		BackchannelLogoutURI: c.BackchannelLogoutURI, RequireMFA: c.RequireMFA,
		UnusedExpiresAt: c.UnusedExpiresAt,
	}
}

func (r clientRow) toDomain() (domain.Client, error) {
	c := domain.Client{
		ID: r.ID, Name: r.Name, SecretHash: emptyToNil(r.SecretHash), Public: r.Public,
		SkipConsent: r.SkipConsent, IDTokenAlg: r.IDTokenAlg,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
		RequirePAR: r.RequirePAR, RegistrationTokenHash: emptyToNil(r.RegistrationTokenHash),
		RequireDPoP: r.RequireDPoP, TokenEndpointAuthMethod: r.TokenEndpointAuthMethod,
		JWKS: r.JWKS, JWKSURI: r.JWKSURI, Disabled: r.Disabled, PKCEOptional: r.PKCEOptional,
		BackchannelLogoutURI: r.BackchannelLogoutURI, RequireMFA: r.RequireMFA,
	}
	if !r.UnusedExpiresAt.IsZero() {
		c.UnusedExpiresAt = r.UnusedExpiresAt.UTC()
	}
	var err error
	if c.RedirectURIs, err = decodeList(r.RedirectURIs); err != nil {
		return domain.Client{}, fmt.Errorf("client %q redirect_uris: %w", r.ID, err)
	}
	if c.GrantTypes, err = decodeList(r.GrantTypes); err != nil {
		return domain.Client{}, fmt.Errorf("client %q grant_types: %w", r.ID, err)
	}
	if c.Scopes, err = decodeList(r.Scopes); err != nil {
		return domain.Client{}, fmt.Errorf("client %q scopes: %w", r.ID, err)
	}
	if c.Audiences, err = decodeList(r.Audiences); err != nil {
		return domain.Client{}, fmt.Errorf("client %q audiences: %w", r.ID, err)
	}
	if c.PostLogoutRedirectURIs, err = decodeList(r.PostLogoutRedirectURIs); err != nil {
		return domain.Client{}, fmt.Errorf("client %q post_logout_redirect_uris: %w", r.ID, err)
	}
	return c, nil
}

type codeRow struct {
	bun.BaseModel `bun:"table:authorization_codes"`

	Hash          []byte     `bun:"hash,pk"`
	ClientID      string     `bun:"client_id"`
	UserID        string     `bun:"user_id"`
	RedirectURI   string     `bun:"redirect_uri"`
	Scope         string     `bun:"scope"`
	Audience      string     `bun:"audience"`
	CodeChallenge string     `bun:"code_challenge"`
	Nonce         string     `bun:"nonce"`
	AuthTime      time.Time  `bun:"auth_time,nullzero"`
	SessionID     string     `bun:"session_id"`
	FamilyID      string     `bun:"family_id"`
	CreatedAt     time.Time  `bun:"created_at"`
	ExpiresAt     time.Time  `bun:"expires_at"`
	UsedAt        *time.Time `bun:"used_at"`
	// RequestedClaims came with migration 20260317000001 (domain.ClaimsRequest.Encode);
	// NULL when the request had no claims parameter.
	RequestedClaims string `bun:"requested_claims,nullzero"`
	// AMR came with migration 20260318000021: space-separated; NULL when none.
	AMR string `bun:"amr,nullzero"`
}

func codeToRow(c domain.AuthorizationCode) codeRow {
	return codeRow{
		Hash: c.Hash, ClientID: c.ClientID, UserID: c.UserID, RedirectURI: c.RedirectURI,
		Scope: encodeList(c.Scope), Audience: encodeList(c.Audience),
		CodeChallenge: c.CodeChallenge, Nonce: c.Nonce, AuthTime: c.AuthTime,
		SessionID: c.SessionID, FamilyID: c.FamilyID,
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, UsedAt: c.UsedAt,
		RequestedClaims: c.Claims.Encode(), AMR: strings.Join(c.AMR, " "),
	}
}

func (r codeRow) toDomain() (domain.AuthorizationCode, error) {
	c := domain.AuthorizationCode{
		Hash: r.Hash, ClientID: r.ClientID, UserID: r.UserID, RedirectURI: r.RedirectURI,
		CodeChallenge: r.CodeChallenge, Nonce: r.Nonce, AuthTime: utc(r.AuthTime),
		SessionID: r.SessionID, FamilyID: r.FamilyID, AMR: strings.Fields(r.AMR),
		CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt), UsedAt: utcPtr(r.UsedAt),
	}
	var err error
	if c.Scope, err = decodeList(r.Scope); err != nil {
		return domain.AuthorizationCode{}, fmt.Errorf("authorization code scope: %w", err)
	}
	if c.Audience, err = decodeList(r.Audience); err != nil {
		return domain.AuthorizationCode{}, fmt.Errorf("authorization code audience: %w", err)
	}
	if c.Claims, err = decodeClaims(r.RequestedClaims); err != nil {
		return domain.AuthorizationCode{}, fmt.Errorf("authorization code claims: %w", err)
	}
	return c, nil
}

// familyRow: client, user and session are NULL in a placeholder that RevokeFamily
// wrote before the family was created.
type familyRow struct {
	bun.BaseModel `bun:"table:token_families"`

	ID        string     `bun:"id,pk"`
	ClientID  string     `bun:"client_id,nullzero"`
	UserID    string     `bun:"user_id,nullzero"`
	SessionID string     `bun:"session_id,nullzero"`
	CreatedAt time.Time  `bun:"created_at"`
	ExpiresAt time.Time  `bun:"expires_at,nullzero"`
	RevokedAt *time.Time `bun:"revoked_at"`
}

func familyToRow(f usecase.TokenFamily) familyRow {
	return familyRow{
		ID: f.ID, ClientID: f.ClientID, UserID: f.UserID, SessionID: f.SessionID,
		CreatedAt: f.CreatedAt, ExpiresAt: f.ExpiresAt, RevokedAt: f.RevokedAt,
	}
}

type refreshTokenRow struct {
	bun.BaseModel `bun:"table:refresh_tokens"`

	Hash      []byte     `bun:"hash,pk"`
	FamilyID  string     `bun:"family_id"`
	ClientID  string     `bun:"client_id"`
	UserID    string     `bun:"user_id"`
	Scope     string     `bun:"scope"`
	Audience  string     `bun:"audience"`
	AuthTime  time.Time  `bun:"auth_time,nullzero"`
	Nonce     string     `bun:"nonce"`
	SessionID string     `bun:"session_id"`
	CreatedAt time.Time  `bun:"created_at"`
	ExpiresAt time.Time  `bun:"expires_at"`
	RotatedAt *time.Time `bun:"rotated_at"`
	RevokedAt *time.Time `bun:"revoked_at"`
	// DPoPJKT came with migration 20260308000001: NULL when the token is unbound.
	DPoPJKT string `bun:"dpop_jkt,nullzero"`
	// RequestedClaims came with migration 20260317000001: NULL when none.
	RequestedClaims string `bun:"requested_claims,nullzero"`
	// AMR came with migration 20260318000021: space-separated; NULL when none.
	AMR string `bun:"amr,nullzero"`
}

func refreshTokenToRow(t domain.RefreshToken) refreshTokenRow {
	return refreshTokenRow{
		Hash: t.Hash, FamilyID: t.FamilyID, ClientID: t.ClientID, UserID: t.UserID,
		Scope: encodeList(t.Scope), Audience: encodeList(t.Audience),
		AuthTime: t.AuthTime, Nonce: t.Nonce, SessionID: t.SessionID,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RotatedAt: t.RotatedAt, RevokedAt: t.RevokedAt,
		DPoPJKT: t.DPoPJKT, RequestedClaims: t.Claims.Encode(), AMR: strings.Join(t.AMR, " "),
	}
}

func (r refreshTokenRow) toDomain() (domain.RefreshToken, error) {
	t := domain.RefreshToken{
		Hash: r.Hash, FamilyID: r.FamilyID, ClientID: r.ClientID, UserID: r.UserID,
		AuthTime: utc(r.AuthTime), Nonce: r.Nonce, SessionID: r.SessionID,
		CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt),
		RotatedAt: utcPtr(r.RotatedAt), RevokedAt: utcPtr(r.RevokedAt),
		DPoPJKT: r.DPoPJKT, AMR: strings.Fields(r.AMR),
	}
	var err error
	if t.Scope, err = decodeList(r.Scope); err != nil {
		return domain.RefreshToken{}, fmt.Errorf("refresh token scope: %w", err)
	}
	if t.Audience, err = decodeList(r.Audience); err != nil {
		return domain.RefreshToken{}, fmt.Errorf("refresh token audience: %w", err)
	}
	if t.Claims, err = decodeClaims(r.RequestedClaims); err != nil {
		return domain.RefreshToken{}, fmt.Errorf("refresh token claims: %w", err)
	}
	return t, nil
}

type revokedAccessTokenRow struct {
	bun.BaseModel `bun:"table:revoked_access_tokens"`

	JTI       string    `bun:"jti,pk"`
	ExpiresAt time.Time `bun:"expires_at"`
}

// revokedPrincipalRow is an entry of the principals' deny-list
// (domain.PrincipalRevocation); NULL revoked_at kills every token of the principal.
type revokedPrincipalRow struct {
	bun.BaseModel `bun:"table:revoked_principals"`

	ID        string     `bun:"id,pk"`
	RevokedAt *time.Time `bun:"revoked_at"`
	ExpiresAt *time.Time `bun:"expires_at"`
}

type consentRow struct {
	bun.BaseModel `bun:"table:consents"`

	UserID    string    `bun:"user_id,pk"`
	ClientID  string    `bun:"client_id,pk"`
	Scope     string    `bun:"scope"`
	GrantedAt time.Time `bun:"granted_at"`
}

func (r consentRow) toDomain() (domain.Consent, error) {
	scope, err := decodeList(r.Scope)
	if err != nil {
		return domain.Consent{}, fmt.Errorf("consent scope: %w", err)
	}
	return domain.Consent{UserID: r.UserID, ClientID: r.ClientID, Scope: scope, GrantedAt: utc(r.GrantedAt)}, nil
}

// redirectURIConsentRow is a consent bound to one redirect URI (a public client's).
// RedirectURIHash, consentURIKey(RedirectURI), is the key; the URI is kept beside it
// to be read back.
type redirectURIConsentRow struct {
	bun.BaseModel `bun:"table:redirect_uri_consents"`

	UserID          string    `bun:"user_id,pk"`
	ClientID        string    `bun:"client_id,pk"`
	RedirectURIHash []byte    `bun:"redirect_uri_hash,pk"`
	RedirectURI     string    `bun:"redirect_uri"`
	Scope           string    `bun:"scope"`
	GrantedAt       time.Time `bun:"granted_at"`
}

func (r redirectURIConsentRow) toDomain() (domain.Consent, error) {
	scope, err := decodeList(r.Scope)
	if err != nil {
		return domain.Consent{}, fmt.Errorf("consent scope: %w", err)
	}
	return domain.Consent{UserID: r.UserID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, Scope: scope,
		GrantedAt: utc(r.GrantedAt)}, nil
}

type sessionRow struct {
	bun.BaseModel `bun:"table:sessions"`

	ID         string    `bun:"id,pk"`
	SecretHash []byte    `bun:"secret_hash"`
	UserID     string    `bun:"user_id"`
	AuthTime   time.Time `bun:"auth_time"`
	CreatedAt  time.Time `bun:"created_at"`
	ExpiresAt  time.Time `bun:"expires_at"`
	// These came with migration 20260316000001: NULL (older rows) reads as unknown.
	UserAgent  string     `bun:"user_agent,nullzero"`
	Address    string     `bun:"address,nullzero"`
	LastSeenAt *time.Time `bun:"last_seen_at"`
	// AMR came with migration 20260318000021: space-separated; NULL reads as none.
	AMR string `bun:"amr,nullzero"`
}

func (r sessionRow) toDomain() domain.Session {
	s := domain.Session{
		ID: r.ID, SecretHash: r.SecretHash, UserID: r.UserID,
		AuthTime: utc(r.AuthTime), CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt),
		UserAgent: r.UserAgent, Address: r.Address, AMR: strings.Fields(r.AMR),
	}
	if r.LastSeenAt != nil {
		s.LastSeenAt = utc(*r.LastSeenAt)
	}
	return s
}

type signingKeyRow struct {
	bun.BaseModel `bun:"table:signing_keys"`

	ID          string     `bun:"id,pk"`
	Alg         string     `bun:"alg"`
	ActiveAlg   string     `bun:"active_alg,nullzero"`
	PrivateKey  []byte     `bun:"private_key"`
	PublicKey   []byte     `bun:"public_key"`
	CreatedAt   time.Time  `bun:"created_at"`
	RetiredAt   *time.Time `bun:"retired_at"`
	ExpiresAt   *time.Time `bun:"expires_at"`
	ActivatesAt *time.Time `bun:"activates_at"` // NULL: signs from the start (domain zero)
	RevokedAt   *time.Time `bun:"revoked_at"`   // NULL: never revoked
}

func keyToRow(k domain.SigningKey) signingKeyRow {
	r := signingKeyRow{
		ID: k.ID, Alg: k.Alg, PrivateKey: k.PrivateKey, PublicKey: k.PublicKey,
		CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt,
	}
	if !k.ActivatesAt.IsZero() {
		at := k.ActivatesAt
		r.ActivatesAt = &at
	}
	if k.Current() {
		r.ActiveAlg = k.Alg
	}
	return r
}

func (r signingKeyRow) toDomain() domain.SigningKey {
	k := domain.SigningKey{
		ID: r.ID, Alg: r.Alg, PrivateKey: r.PrivateKey, PublicKey: r.PublicKey,
		CreatedAt: utc(r.CreatedAt), RetiredAt: utcPtr(r.RetiredAt), ExpiresAt: utcPtr(r.ExpiresAt),
		RevokedAt: utcPtr(r.RevokedAt),
	}
	if r.ActivatesAt != nil {
		k.ActivatesAt = r.ActivatesAt.UTC()
	}
	return k
}

// encodeList stores a list as a JSON array: any string survives, whatever it contains.
func encodeList(list []string) string {
	if len(list) == 0 {
		return "[]"
	}
	b, err := json.Marshal(list)
	if err != nil {
		// json.Marshal of []string cannot fail; keep the column valid regardless.
		return "[]"
	}
	return string(b)
}

// decodeList reads encodeList's output; an empty list comes back as nil.
func decodeList(s string) ([]string, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("decode JSON list: %w", err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}

// decodeClaims reads a claims request as ClaimsRequest.Encode stored it.
func decodeClaims(s string) (domain.ClaimsRequest, error) {
	if s == "" {
		return domain.ClaimsRequest{}, nil
	}
	return domain.ParseClaimsRequest(s)
}

// nullString is s, or NULL when empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// utc normalises a time read back from any driver (pgx returns local time, MySQL and
// SQLite whatever zone they parsed) to UTC; zero stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func emptyToNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// RefreshTokenColumns are the columns of a new refresh token, in the order of
// RefreshTokenValues, for the decorators of these repositories (batchrepo).
const RefreshTokenColumns = "hash, family_id, client_id, user_id, scope, audience, auth_time, nonce, session_id, " +
	"created_at, expires_at, dpop_jkt, requested_claims, amr"

// RefreshTokenValues are t's values as a new row stores them (RefreshTokenColumns).
func RefreshTokenValues(t domain.RefreshToken) []any {
	var authTime, jkt any
	if !t.AuthTime.IsZero() {
		authTime = t.AuthTime
	}
	if t.DPoPJKT != "" {
		jkt = t.DPoPJKT
	}
	return []any{t.Hash, t.FamilyID, t.ClientID, t.UserID, encodeList(t.Scope), encodeList(t.Audience),
		authTime, t.Nonce, t.SessionID, t.CreatedAt, t.ExpiresAt, jkt, nullString(t.Claims.Encode()),
		nullString(strings.Join(t.AMR, " "))}
}

// FamilyColumns are the columns of a new token family, in the order of FamilyValues,
// for the decorators of these repositories (batchrepo).
const FamilyColumns = "id, client_id, user_id, session_id, created_at, expires_at"

// FamilyValues are f's values as a new row stores them (FamilyColumns).
func FamilyValues(f usecase.TokenFamily) []any {
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var expires any
	if !f.ExpiresAt.IsZero() {
		expires = f.ExpiresAt
	}
	return []any{f.ID, null(f.ClientID), null(f.UserID), null(f.SessionID), f.CreatedAt, expires}
}
