package usecase

import (
	"context"
	"fmt"
	"slices"

	"gatehouse/domain"
)

// ScopeView is one requested scope as the consent page shows it.
type ScopeView struct {
	Name        string
	Description string
}

// ConsentView is what the consent page shows.
type ConsentView struct {
	RequestID   string
	ClientName  string
	RedirectURI string
	Scopes      []ScopeView
}

// ConsentPrompt returns what the consent page shows for a pending request. When the
// page does not apply (nobody is logged in for the request in this browser), the step
// says where to go instead; otherwise its Kind is StepConsent.
func (uc *Authorize) ConsentPrompt(ctx context.Context, id, browserSecret string, s *domain.Session) (ConsentView, Step, error) {
	p, err := uc.Pending(ctx, id, browserSecret)
	if err != nil {
		return ConsentView{}, Step{}, err
	}
	req := p.Request
	if p.NeedsLogin(s) {
		return ConsentView{}, Step{Kind: StepLogin, RequestID: req.ID, RedirectURI: req.RedirectURI}, nil
	}
	v := ConsentView{RequestID: req.ID, ClientName: p.Client.Name, RedirectURI: req.RedirectURI}
	for _, sc := range req.Scope {
		v.Scopes = append(v.Scopes, ScopeView{Name: sc, Description: domain.DescribeScope(sc)})
	}
	return v, Step{Kind: StepConsent, RequestID: req.ID, RedirectURI: req.RedirectURI}, nil
}

// Decide records the user's answer on the consent page. Deny sends access_denied back
// to the client (RFC 6749 §4.1.2.1); allow remembers the consent and issues the code.
// Either way the request is completed, once.
func (uc *Authorize) Decide(ctx context.Context, id, browserSecret string, s *domain.Session, allow bool) (Step, error) {
	p, err := uc.Pending(ctx, id, browserSecret)
	if err != nil {
		return Step{}, err
	}
	req := p.Request
	if p.NeedsLogin(s) {
		// The session ended or changed in another tab since the page was shown.
		return Step{Kind: StepLogin, RequestID: req.ID, RedirectURI: req.RedirectURI}, nil
	}
	if err := uc.complete(ctx, req.ID); err != nil {
		return Step{}, err
	}
	if !allow {
		return Step{}, uc.redirectError(req, domain.ErrAccessDenied.WithDescription("the user denied the request"))
	}
	// Remember the union with what was granted before (at the same redirect URI, for
	// a public client), so that a client asking for different scopes in turn does not
	// ask again for ones already granted.
	uri := p.Client.ConsentRedirectURI(req.RedirectURI)
	scope := slices.Clone(req.Scope)
	if old, err := uc.consents.ConsentFor(ctx, req.UserID, req.ClientID, uri); err == nil {
		for _, sc := range old.Scope {
			if !slices.Contains(scope, sc) {
				scope = append(scope, sc)
			}
		}
	}
	c := domain.Consent{UserID: req.UserID, ClientID: req.ClientID, RedirectURI: uri, Scope: scope, GrantedAt: uc.clock.Now()}
	if err := uc.consents.SaveConsent(ctx, c); err != nil {
		return Step{}, fmt.Errorf("save consent: %w", err)
	}
	return uc.issue(ctx, req, s.ID)
}
