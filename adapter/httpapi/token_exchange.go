package httpapi

import "gatehouse/usecase"

// exchangeParams reads the RFC 8693 §2.1 parameters of a token request. `audience`
// is taken once (a repeated one is refused like any repeated parameter); several
// targets go in repeated `resource` parameters.
func exchangeParams(f form) usecase.TokenExchangeParams {
	return usecase.TokenExchangeParams{
		SubjectToken:       f.get("subject_token"),
		SubjectTokenType:   f.get("subject_token_type"),
		ActorToken:         f.get("actor_token"),
		ActorTokenType:     f.get("actor_token_type"),
		RequestedTokenType: f.get("requested_token_type"),
		Audience:           f.get("audience"),
	}
}
