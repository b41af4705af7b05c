package adminapi

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// SessionResource is a browser session (never its secret or hash).
type SessionResource struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	AuthTime   time.Time  `json:"auth_time"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
	UserAgent  string     `json:"user_agent,omitempty"`
	Address    string     `json:"address,omitempty"`
	AMR        []string   `json:"amr"`
}

func ToSession(s domain.Session) SessionResource {
	out := SessionResource{ID: s.ID, UserID: s.UserID, AuthTime: s.AuthTime.UTC(), CreatedAt: s.CreatedAt.UTC(),
		ExpiresAt: s.ExpiresAt.UTC(), UserAgent: s.UserAgent, Address: s.Address, AMR: nonNil(s.AMR)}
	if !s.LastSeenAt.IsZero() {
		t := s.LastSeenAt.UTC()
		out.LastSeenAt = &t
	}
	return out
}

// itemsOf is a whole list as one page.
func itemsOf[T, R any](in []T, f func(T) R) page[R] {
	out := page[R]{Items: make([]R, 0, len(in))}
	for _, x := range in {
		out.Items = append(out.Items, f(x))
	}
	return out
}

// sessionCursor is the position of a session in usecase.SessionOrder: when it was last seen
// ("" never), created, and its id.
func sessionCursor(s *domain.Session) string {
	if s == nil {
		return ""
	}
	seen := ""
	if !s.LastSeenAt.IsZero() {
		seen = s.LastSeenAt.UTC().Format(time.RFC3339Nano)
	}
	return encodeCursor(listSessions, seen, s.CreatedAt.UTC().Format(time.RFC3339Nano), s.ID)
}

func (a *API) userSessions(c echo.Context) error {
	cursor, limit, ok, err := pageParams(c, listSessions, 3)
	if !ok {
		return err
	}
	var after *domain.Session
	if cursor[2] != "" {
		after = &domain.Session{ID: cursor[2]}
		var e1, e2 error
		if cursor[0] != "" {
			after.LastSeenAt, e1 = time.Parse(time.RFC3339Nano, cursor[0])
		}
		after.CreatedAt, e2 = time.Parse(time.RFC3339Nano, cursor[1])
		if e1 != nil || e2 != nil {
			return badCursor(c)
		}
	}
	u, err := a.user(c)
	if err != nil {
		return a.fail(c, err)
	}
	sessions, err := a.cfg.Resources.UserSessions(c.Request().Context(), u.ID)
	if err != nil {
		return a.fail(c, err)
	}
	items, more := wholePage(sessions, usecase.SessionOrder, after, limit)
	out := itemsOf(items, ToSession)
	out.NextCursor = sessionCursor(more)
	return c.JSON(http.StatusOK, out)
}

func (a *API) getSession(c echo.Context) error {
	s, err := a.cfg.Resources.Session(c.Request().Context(), c.Param("id"))
	if err != nil {
		return a.fail(c, err)
	}
	return c.JSON(http.StatusOK, ToSession(s))
}

func (a *API) deleteSession(c echo.Context) error {
	if err := a.cfg.Resources.EndSession(c.Request().Context(), c.Param("id")); err != nil {
		return a.fail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// ConsentResource is a consent a user gave a client.
type ConsentResource struct {
	ClientID    string    `json:"client_id"`
	RedirectURI string    `json:"redirect_uri,omitempty"`
	Scope       string    `json:"scope"`
	GrantedAt   time.Time `json:"granted_at"`
}

func ToConsent(c domain.Consent) ConsentResource {
	return ConsentResource{ClientID: c.ClientID, RedirectURI: c.RedirectURI, Scope: domain.ScopeString(c.Scope),
		GrantedAt: c.GrantedAt.UTC()}
}

// consentOrder is the order of a user's consents: by client, then redirect URI.
func consentOrder(a, b domain.Consent) int {
	return cmp.Or(cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(a.RedirectURI, b.RedirectURI))
}

func (a *API) userConsents(c echo.Context) error {
	// A consent's position is its redirect URI (may be "") and its client.
	cursor, limit, ok, err := pageParams(c, listConsents, 2)
	if !ok {
		return err
	}
	var after *domain.Consent
	if cursor[1] != "" {
		after = &domain.Consent{RedirectURI: cursor[0], ClientID: cursor[1]}
	}
	u, err := a.user(c)
	if err != nil {
		return a.fail(c, err)
	}
	consents, err := a.cfg.Resources.UserConsents(c.Request().Context(), u.ID)
	if err != nil {
		return a.fail(c, err)
	}
	items, more := wholePage(consents, consentOrder, after, limit)
	out := itemsOf(items, ToConsent)
	if more != nil {
		out.NextCursor = encodeCursor(listConsents, more.RedirectURI, more.ClientID)
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) revokeConsent(c echo.Context) error {
	u, err := a.user(c)
	if err != nil {
		return a.fail(c, err)
	}
	if err := a.cfg.Resources.RevokeConsent(c.Request().Context(), u.ID, c.Param("client")); err != nil {
		return a.fail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// keyResource is a signing key: the names of `keys list --json`, never private.
type keyResource struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	Status      string     `json:"status"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func toKey(k domain.SigningKey, now time.Time) keyResource {
	status := string(k.State(now))
	if k.State(now) == domain.KeyRetired {
		status = "expired"
		if k.Published(now) {
			status = "retired (published)"
		}
	}
	return keyResource{KID: k.ID, Alg: k.Alg, Status: status, State: string(k.State(now)), CreatedAt: k.CreatedAt.UTC(),
		ActivatesAt: k.ActivationTime().UTC(), RetiredAt: utcPtr(k.RetiredAt), ExpiresAt: utcPtr(k.ExpiresAt),
		RevokedAt: utcPtr(k.RevokedAt)}
}

// keyOrder is the order of the signing keys: newest first (as keys list), then by kid.
func keyOrder(a, b domain.SigningKey) int {
	return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
}

func (a *API) listKeys(c echo.Context) error {
	pos, limit, ok, err := listParams(c, listKeys)
	if !ok {
		return err
	}
	var after *domain.SigningKey
	if pos.ID != "" {
		after = &domain.SigningKey{ID: pos.ID, CreatedAt: pos.CreatedAt}
	}
	ctx := c.Request().Context()
	keys, err := a.cfg.Keys.List(ctx)
	if err != nil {
		return a.fail(c, err)
	}
	now := a.cfg.Clock.Now()
	items, more := wholePage(keys, keyOrder, after, limit)
	out := itemsOf(items, func(k domain.SigningKey) keyResource { return toKey(k, now) })
	if more != nil {
		out.NextCursor = positionCursor(listKeys, usecase.ListPosition{CreatedAt: more.CreatedAt, ID: more.ID})
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) getKey(c echo.Context) error {
	keys, err := a.cfg.Keys.List(c.Request().Context())
	if err != nil {
		return a.fail(c, err)
	}
	for _, k := range keys {
		if k.ID == c.Param("kid") {
			return c.JSON(http.StatusOK, toKey(k, a.cfg.Clock.Now()))
		}
	}
	return a.fail(c, domain.ErrNotFound)
}

// keyRotate is the body of POST /keys/rotate (optional).
type keyRotate struct {
	Alg string `json:"alg"`
	// Now: the new key signs at once (keys rotate --now).
	Now bool `json:"now"`
}

func (a *API) rotateKey(c echo.Context) error {
	var in keyRotate
	if c.Request().ContentLength != 0 {
		if ok, err := readJSON(c, &in, "application/json"); !ok {
			return err
		}
	}
	switch in.Alg {
	case "", domain.AlgES256, domain.AlgRS256, domain.AlgEdDSA:
	default:
		return problem(c, http.StatusBadRequest, "validation", "Invalid input", "alg must be ES256, RS256 or EdDSA",
			[]fieldIssue{{Field: "alg", Message: "unsupported"}})
	}
	ctx := c.Request().Context()
	if err := a.cfg.Keys.Ensure(ctx); err != nil {
		return a.fail(c, err)
	}
	k, err := a.cfg.Keys.Rotate(ctx, in.Alg, in.Now)
	if err != nil {
		return a.fail(c, err)
	}
	c.Response().Header().Set("Location", Prefix+"/keys/"+k.ID)
	return c.JSON(http.StatusCreated, toKey(k, a.cfg.Clock.Now()))
}

func (a *API) revokeKey(c echo.Context) error {
	if _, err := a.cfg.Keys.Revoke(c.Request().Context(), c.Param("kid")); err != nil {
		return a.fail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// auditResource is one audit event (no secret is ever in one: SECURITY S56).
type auditResource struct {
	ID      string         `json:"id"`
	Time    time.Time      `json:"time"`
	Type    string         `json:"type"`
	Actor   string         `json:"actor"`
	Target  string         `json:"target"`
	IP      string         `json:"ip"`
	Reason  string         `json:"reason"`
	Details map[string]any `json:"details"`
}

func toAudit(e domain.AuditEvent) auditResource {
	d := e.Details
	if d == nil {
		d = map[string]any{}
	}
	return auditResource{ID: e.ID, Time: e.Time.UTC(), Type: e.Type, Actor: e.Actor, Target: e.Target, IP: e.IP,
		Reason: e.Reason, Details: d}
}

func (a *API) listAuditEvents(c echo.Context) error {
	before, limit, ok, err := listParams(c, listAudit)
	if !ok {
		return err
	}
	f := usecase.AuditFilter{User: c.QueryParam("user"), Type: c.QueryParam("type"), Limit: limit,
		Before: usecase.AuditPosition{Time: before.CreatedAt, ID: before.ID}}
	if f.Type != "" && !slices.Contains(domain.AuditTypes, f.Type) {
		// As `audit list --type` does: a misspelt type would otherwise list nothing, as if
		// nothing had happened.
		return badRequest(c, fmt.Sprintf("type must be one of %s", strings.Join(domain.AuditTypes, ", ")),
			fieldIssue{Field: "type", Message: "unknown event type"})
	}
	if s := c.QueryParam("since"); s != "" {
		since, err := parseSince(s, a.cfg.Clock.Now())
		if err != nil {
			return badRequest(c, "since must be a duration (24h) or an RFC 3339 time", fieldIssue{Field: "since", Message: err.Error()})
		}
		f.Since = since
	}
	events, next, err := a.cfg.Resources.AuditEvents(c.Request().Context(), f)
	if err != nil {
		return a.fail(c, err)
	}
	out := itemsOf(events, toAudit)
	out.NextCursor = positionCursor(listAudit, usecase.ListPosition{CreatedAt: next.Time, ID: next.ID})
	return c.JSON(http.StatusOK, out)
}

// parseSince is a positive duration back from now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, errors.New("the duration must be positive")
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, errors.New("neither a duration nor an RFC 3339 time")
	}
	return t, nil
}
