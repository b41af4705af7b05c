package resourceserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// claimsKey is where Middleware puts the claims on the echo context.
const claimsKey = "gatehouse.resourceserver.claims"

// FromContext returns the claims Middleware put on the context.
func FromContext(c echo.Context) (*Claims, bool) {
	cl, ok := c.Get(claimsKey).(*Claims)
	return cl, ok && cl != nil
}

// errorBody is the RFC 6750 §3 error as JSON.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// Middleware requires a valid access token (RFC 6750 §2.1: in the Authorization
// header only; form and query tokens are not accepted) and puts its claims on the
// context. A DPoP-bound token (cnf.jkt) must come as "Authorization: DPoP <token>"
// with a valid proof (dpop.go, RFC 9449 §7); sent as Bearer it is refused, as is
// an unbound token sent as DPoP.
func (v *Verifier) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, ok := v.authenticate(c.Response(), c.Request())
			if !ok {
				return nil // the challenge is written
			}
			c.Set(claimsKey, claims)
			c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), ctxKey{}, claims)))
			return next(c)
		}
	}
}

// Handler is Middleware for plain net/http: it requires a valid access token and
// puts its claims on the request's context, where ClaimsFromContext finds them.
func (v *Verifier) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := v.authenticate(w, r)
		if !ok {
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, claims)))
	})
}

// ctxKey keys the claims on a request's context.
type ctxKey struct{}

// ClaimsFromContext returns the claims Handler (or Middleware) put on a request's context.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	cl, ok := ctx.Value(ctxKey{}).(*Claims)
	return cl, ok && cl != nil
}

// authenticate checks the request's access token and returns its claims; when it
// is missing or bad it writes the challenge and returns false.
func (v *Verifier) authenticate(w http.ResponseWriter, r *http.Request) (*Claims, bool) {
	realm, meta := v.cfg.Realm, v.metadataURL
	raw, dpop, err := authorization(r)
	scheme := "Bearer"
	if dpop {
		scheme = "DPoP"
	}
	switch {
	case errors.Is(err, errNoCredentials):
		if v.cfg.PublicURL != "" {
			w.Header().Add("WWW-Authenticate", `DPoP algs="`+v.dpopAlgs()+`"`)
		}
		writeChallenge(w, "Bearer", realm, meta, http.StatusUnauthorized, "", "", "",
			"invalid_token", "a bearer access token is required")
		return nil, false
	case err != nil:
		writeChallenge(w, "Bearer", realm, meta, http.StatusBadRequest, "invalid_request", err.Error(), "",
			"invalid_request", err.Error())
		return nil, false
	}
	claims, err := v.Verify(r.Context(), raw)
	if err != nil {
		desc := descMalformed
		var te *TokenError
		if errors.As(err, &te) {
			desc = te.Description
		}
		writeChallenge(w, scheme, realm, meta, http.StatusUnauthorized, "invalid_token", desc, "", "invalid_token", desc)
		return nil, false
	}
	switch {
	case claims.JKT != "" && !dpop:
		desc := "the access token is DPoP-bound; send it with the DPoP scheme and a proof"
		writeChallenge(w, "DPoP", realm, meta, http.StatusUnauthorized, "invalid_token", desc, "", "invalid_token", desc)
		return nil, false
	case claims.JKT == "" && dpop:
		desc := "the access token is not DPoP-bound; send it with the Bearer scheme"
		writeChallenge(w, "DPoP", realm, meta, http.StatusUnauthorized, "invalid_token", desc, "", "invalid_token", desc)
		return nil, false
	case dpop:
		proofs := r.Header.Values("DPoP")
		err := errors.New(descProofMissing)
		if len(proofs) == 1 {
			err = v.checkProof(proofs[0], r.Method, r.URL.EscapedPath(), raw, claims.JKT)
		}
		if err != nil {
			writeChallenge(w, "DPoP", realm, meta, http.StatusUnauthorized, "invalid_dpop_proof", err.Error(), "",
				"invalid_dpop_proof", err.Error())
			return nil, false
		}
	}
	return claims, true
}

// dpopAlgs lists the proof algs, for the DPoP challenge's algs parameter.
func (v *Verifier) dpopAlgs() string { return proofAlgsParam }

// authorization extracts the token of "Authorization: Bearer <token>" or
// "Authorization: DPoP <token>" (RFC 9449 §7.1); dpop reports the latter.
func authorization(r *http.Request) (token string, dpop bool, err error) {
	values := r.Header.Values("Authorization")
	if len(values) == 1 {
		if scheme, rest, _ := strings.Cut(values[0], " "); strings.EqualFold(scheme, "DPoP") {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+rest)
			dpop = true
		}
	}
	token, err = bearerToken(r)
	return token, dpop, err
}

// RequireScope answers 403 insufficient_scope unless the token has every scope
// listed (RFC 6750 §3.1). It must run after Middleware; without claims on the
// context it answers 401, failing closed.
func RequireScope(scopes ...string) echo.MiddlewareFunc {
	need := strings.Join(scopes, " ")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, ok := FromContext(c)
			if !ok {
				writeChallenge(c.Response(), "Bearer", "", "", http.StatusUnauthorized, "", "", "",
					"invalid_token", "a bearer access token is required")
				return nil
			}
			if !claims.requireScopes(c.Response(), scopes, need) {
				return nil
			}
			return next(c)
		}
	}
}

// RequireScopeHandler is RequireScope for plain net/http: it must run inside
// Verifier.Handler; without claims on the context it answers 401, failing closed.
func RequireScopeHandler(next http.Handler, scopes ...string) http.Handler {
	need := strings.Join(scopes, " ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := ClaimsFromContext(r.Context())
		if !ok {
			writeChallenge(w, "Bearer", "", "", http.StatusUnauthorized, "", "", "",
				"invalid_token", "a bearer access token is required")
			return
		}
		if claims.requireScopes(w, scopes, need) {
			next.ServeHTTP(w, r)
		}
	})
}

// requireScopes writes 403 insufficient_scope and returns false unless the token
// has every scope listed.
func (c *Claims) requireScopes(w http.ResponseWriter, scopes []string, need string) bool {
	for _, s := range scopes {
		if !c.HasScope(s) {
			desc := "the access token lacks the scope this request needs"
			writeChallenge(w, "Bearer", c.realm, c.metadataURL, http.StatusForbidden, "insufficient_scope", desc, need, "insufficient_scope", desc)
			return false
		}
	}
	return true
}

var errNoCredentials = errors.New("no bearer credentials")

// bearerToken extracts the token of "Authorization: Bearer <token>". No
// Authorization header, or another scheme, is errNoCredentials (RFC 6750 §3.1:
// then no error code is given); a malformed Bearer header is an invalid request.
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", errNoCredentials
	}
	if len(values) > 1 {
		return "", errors.New("more than one Authorization header")
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errNoCredentials
	}
	token = strings.TrimLeft(token, " ")
	if token == "" {
		return "", errors.New("the Bearer credentials are empty")
	}
	if !isB64Token(token) {
		return "", errors.New("the Bearer credentials are not a b64token")
	}
	return token, nil
}

// isB64Token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" (RFC 6750 §2.1).
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// writeChallenge writes an RFC 6750 §3 response: WWW-Authenticate with realm and,
// when code is set, error, error_description and scope; resource_metadata (RFC
// 9728 §5.1) when the Verifier has a Resource; and a JSON body.
//
// With no credentials the header carries no error code (RFC 6750 §3.1); the body
// still says invalid_token so that clients parsing bodies get a known code.
// scheme is Bearer or DPoP (RFC 9449 §7.1).
func writeChallenge(w http.ResponseWriter, scheme, realm, metadataURL string, status int, code, desc, scope, bodyCode, bodyDesc string) {
	var b strings.Builder
	b.WriteString(scheme)
	sep := " "
	param := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(quoteEscape(value))
		b.WriteByte('"')
		sep = ", "
	}
	if realm != "" {
		param("realm", realm)
	}
	if metadataURL != "" {
		param("resource_metadata", metadataURL)
	}
	if code != "" {
		param("error", code)
		if desc != "" {
			param("error_description", desc)
		}
		if scope != "" {
			param("scope", scope)
		}
	}
	if scheme == "DPoP" {
		param("algs", proofAlgsParam)
	}
	h := w.Header()
	if prev := h.Values("WWW-Authenticate"); len(prev) > 0 {
		// Keep a DPoP challenge added before this one (no credentials at all).
		h.Set("WWW-Authenticate", b.String())
		for _, p := range prev {
			h.Add("WWW-Authenticate", p)
		}
	} else {
		h.Set("WWW-Authenticate", b.String())
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body, _ := json.Marshal(errorBody{Error: bodyCode, ErrorDescription: bodyDesc})
	_, _ = w.Write(append(body, '\n'))
}

// quoteEscape makes s safe inside a quoted-string (RFC 9110 §5.6.4): backslash
// and quote are escaped, control characters dropped.
func quoteEscape(s string) string {
	if !strings.ContainsAny(s, "\"\\") && !hasCTL(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
