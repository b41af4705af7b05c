package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// JWKSMaxAge is how long a client may cache the JWKS (Cache-Control max-age): a
// rotated-in key must be published at least this long before it signs, so that no
// resource server honouring it meets an unknown kid (GATEHOUSE_KEY_ACTIVATION_DELAY).
const JWKSMaxAge = 60 * time.Second

var jwksCacheControl = "public, max-age=" + strconv.Itoa(int(JWKSMaxAge/time.Second))

// JWKSFunc returns the current JWKS document (RFC 7517), already marshalled.
type JWKSFunc func(ctx context.Context) ([]byte, error)

// Discovery serves RFC 8414 metadata, OpenID Connect discovery and the JWKS. The
// issuer comes from configuration only, never from Host or X-Forwarded-* (SECURITY S39).
type Discovery struct {
	issuer   string
	grants   []string
	features Features
	jwks     JWKSFunc
}

// Features says which optional endpoints this build serves, so metadata lists only
// what exists.
type Features struct {
	Authorize   bool // /oauth/authorize, login and consent pages
	UserInfo    bool
	Device      bool
	IDTokenAlgs []string
	// PAR: the pushed authorization request endpoint (RFC 9126); RequirePAR: every
	// client must use it.
	PAR        bool
	RequirePAR bool
	// Registration: dynamic client registration (RFC 7591) is on.
	Registration bool
	// DPoPAlgs are the algs accepted in DPoP proofs (RFC 9449 §5.1).
	DPoPAlgs []string
	// ClientAssertionAlgs are the algs of private_key_jwt assertions; empty: the
	// method is not offered.
	ClientAssertionAlgs []string
	// ClientIDMetadataDocuments: https client_ids name their metadata document
	// (draft-ietf-oauth-client-id-metadata-document).
	ClientIDMetadataDocuments bool
}

// NewDiscovery builds the metadata from the configuration and the grants the token
// endpoint serves.
func NewDiscovery(settings usecase.Settings, token *usecase.Token, features Features, jwks JWKSFunc) *Discovery {
	return &Discovery{issuer: string(settings.Issuer), grants: token.GrantTypes(), features: features, jwks: jwks}
}

func (d *Discovery) metadata(oidc bool) map[string]any {
	m := map[string]any{
		"issuer":                                         d.issuer,
		"token_endpoint":                                 d.issuer + "/oauth/token",
		"jwks_uri":                                       d.issuer + "/.well-known/jwks.json",
		"revocation_endpoint":                            d.issuer + "/oauth/revoke",
		"introspection_endpoint":                         d.issuer + "/oauth/introspect",
		"grant_types_supported":                          d.grants,
		"token_endpoint_auth_methods_supported":          []string{usecase.AuthMethodBasic, usecase.AuthMethodPost, usecase.AuthMethodNone},
		"revocation_endpoint_auth_methods_supported":     []string{usecase.AuthMethodBasic, usecase.AuthMethodPost, usecase.AuthMethodNone},
		"introspection_endpoint_auth_methods_supported":  []string{usecase.AuthMethodBasic, usecase.AuthMethodPost},
		"scopes_supported":                               []string{"openid", "profile", "email", "phone", "groups", "offline_access"},
		"response_types_supported":                       []string{},
		"authorization_response_iss_parameter_supported": true,
		"code_challenge_methods_supported":               []string{"S256"},
	}
	if len(d.features.DPoPAlgs) > 0 {
		m["dpop_signing_alg_values_supported"] = d.features.DPoPAlgs
	}
	if algs := d.features.ClientAssertionAlgs; len(algs) > 0 {
		// private_key_jwt works at every endpoint that authenticates clients.
		for _, ep := range []string{"token_endpoint", "revocation_endpoint", "introspection_endpoint"} {
			m[ep+"_auth_methods_supported"] = append(m[ep+"_auth_methods_supported"].([]string), usecase.AuthMethodPrivateKeyJWT)
			m[ep+"_auth_signing_alg_values_supported"] = algs
		}
	}
	if d.features.Authorize {
		m["authorization_endpoint"] = d.issuer + "/oauth/authorize"
		m["response_types_supported"] = []string{"code"}
		m["response_modes_supported"] = []string{"query"}
	}
	if d.features.Device {
		m["device_authorization_endpoint"] = d.issuer + "/oauth/device_authorization"
	}
	if d.features.PAR && d.features.Authorize {
		m["pushed_authorization_request_endpoint"] = d.issuer + "/oauth/par"
		m["require_pushed_authorization_requests"] = d.features.RequirePAR
	}
	if d.features.Registration {
		m["registration_endpoint"] = d.issuer + "/oauth/register"
	}
	if d.features.ClientIDMetadataDocuments {
		m["client_id_metadata_document_supported"] = true
	}
	if oidc || d.features.UserInfo {
		if d.features.UserInfo {
			m["userinfo_endpoint"] = d.issuer + "/userinfo"
		}
		if d.features.Authorize {
			// OpenID Connect RP-Initiated Logout 1.0 §2.1; prompt values of Core §3.1.2.1
			// (select_account shows the login page, where the user signs in with the
			// account of their choice: one account per session).
			m["end_session_endpoint"] = d.issuer + "/logout"
			m["prompt_values_supported"] = []string{"none", "login", "consent", "select_account"}
			// Discovery 1.0 §3: the languages of the pages (ui_locales).
			m["ui_locales_supported"] = supportedLanguages()
			// OpenID Connect Back-Channel Logout 1.0 §2.1: every logout token has a sid.
			m["backchannel_logout_supported"] = true
			m["backchannel_logout_session_supported"] = true
		}
		// Request objects (Core §6) are refused (request_not_supported).
		m["request_parameter_supported"] = false
		m["request_uri_parameter_supported"] = false
		m["subject_types_supported"] = []string{"public"}
		m["id_token_signing_alg_values_supported"] = d.features.IDTokenAlgs
		m["claims_supported"] = append([]string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "amr", "acr"},
			domain.UserClaimNames()...)
		if d.features.Authorize {
			// OpenID Connect Core §5.5: the claims request parameter.
			m["claims_parameter_supported"] = true
			// acr_values or an essential acr claim asks for one of these (SECURITY S53).
			m["acr_values_supported"] = domain.ACRValuesSupported
		}
	}
	return m
}

// OAuthMetadata serves GET /.well-known/oauth-authorization-server.
func (d *Discovery) OAuthMetadata(c echo.Context) error {
	return c.JSON(http.StatusOK, d.metadata(false))
}

// OpenIDConfiguration serves GET /.well-known/openid-configuration.
func (d *Discovery) OpenIDConfiguration(c echo.Context) error {
	return c.JSON(http.StatusOK, d.metadata(true))
}

// JWKS serves GET /.well-known/jwks.json.
func (d *Discovery) JWKS(c echo.Context) error {
	b, err := d.jwks(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", jwksCacheControl)
	return c.Blob(http.StatusOK, "application/jwk-set+json", b)
}
