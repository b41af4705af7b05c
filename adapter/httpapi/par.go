package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"gatehouse/usecase"
)

// PARHandler serves the pushed authorization request endpoint, POST /oauth/par
// (RFC 9126 §2). The request_uri it returns is used at GET /oauth/authorize.
type PARHandler struct {
	par *usecase.PushedAuthorization
}

// NewPARHandler builds the handler.
func NewPARHandler(par *usecase.PushedAuthorization) *PARHandler { return &PARHandler{par: par} }

// parResponse is RFC 9126 §2.2.
type parResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// Push handles the request: the client authenticates as at the token endpoint (a
// public client sends its client_id); the body holds the authorization request
// parameters. Errors are RFC 6749 §5.2 JSON, like the token endpoint's.
func (h *PARHandler) Push(c echo.Context) error {
	f, cr, err := clientForm(c)
	if err != nil {
		return err
	}
	got, err := h.par.Push(c.Request().Context(), usecase.PushInput{Credentials: cr, Params: usecase.AuthorizeParams{
		ClientID: f.get("client_id"), RedirectURI: f.get("redirect_uri"), ResponseType: f.get("response_type"),
		ResponseMode: f.get("response_mode"), IDTokenHint: f.get("id_token_hint"),
		Scope: f.get("scope"), State: f.get("state"), Nonce: f.get("nonce"),
		CodeChallenge: f.get("code_challenge"), CodeChallengeMethod: f.get("code_challenge_method"),
		Prompt: f.get("prompt"), MaxAge: f.get("max_age"), Claims: f.get("claims"), ACRValues: f.get("acr_values"),
		Request: f.get("request"), RequestURI: f.get("request_uri"), Resource: f.resources,
	}})
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusCreated, parResponse{RequestURI: got.RequestURI, ExpiresIn: int64(got.ExpiresIn.Seconds())})
}
